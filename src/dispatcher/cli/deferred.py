"""Keep `rich.markdown` and `rich.traceback` out of `--help`.

Typer's help renderer imports both at module top, though it builds a Markdown renderable only for
apps whose help is written in markdown and a Traceback only for its pretty exceptions; ours uses
Rich markup and turns pretty exceptions off. Together with markdown-it and pygments behind them they
cost about a third of every `--help`. `defer()` registers a stand-in module whose classes load the
real module on first construction, so anything that does render Markdown or a Traceback still
gets the real thing.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

DEFERRED = {"rich.markdown": ("Markdown",), "rich.traceback": ("Traceback",)}
MARK = "__dispatcher_stand_in__"


def _real(name: str) -> ModuleType:
    module = sys.modules.get(name)
    if module is None or getattr(module, MARK, False):
        sys.modules.pop(name, None)
        module = importlib.import_module(name)
    return module


def _stand_in_class(module: str, name: str) -> type:
    def construct(cls: type, *args: Any, **kwargs: Any) -> Any:
        return getattr(_real(module), name)(*args, **kwargs)

    return type(name, (), {"__new__": construct, "__module__": module})


def _stand_in(module: str, classes: tuple[str, ...]) -> ModuleType:
    def module_getattr(attribute: str) -> Any:
        if attribute.startswith("__"):  # the import system probes __path__ & co.
            raise AttributeError(attribute)
        return getattr(_real(module), attribute)

    stand_in = ModuleType(module, f"Loads {module} on first use (dispatcher.cli.deferred)")
    stand_in.__dict__.update({name: _stand_in_class(module, name) for name in classes})
    stand_in.__dict__.update({"__getattr__": module_getattr, MARK: True})
    return stand_in


def defer() -> None:
    """Register the stand-ins for modules not loaded yet."""
    for module, classes in DEFERRED.items():
        if module not in sys.modules:
            sys.modules[module] = _stand_in(module, classes)
