"""Command-line text that is not UTF-8 (a mis-encoded terminal): where each kind of it goes.

Python decodes argv and the environment with surrogateescape, so the byte 0xff arrives as the
lone surrogate U+DCFF, which no database, hash or stream can encode. Each parameter takes such
text one of three ways, decided by its declared type:

- Path parameters and PATH_TEXT options (--db) are file names, where any bytes are valid: the
  file opens, and only printing writes the bytes out (as \\xff).
- AUDIT_TEXT options (reasons, notes, acting ids, roles) reach the service as typed: the
  decision refuses them and records the blocked attempt (exit 2), like any other gate.
- Every other text parameter (run and request ids, weeks, filters, settings) is refused here,
  in one line before the command runs (exit 1): nothing was decided, so nothing is recorded.

Checking in the root group, by type, covers every command, present and future; a parameter
type alone cannot record a refusal, and the domain cannot see which text is a file name.
"""

from __future__ import annotations

from typing import Any

from typer._click.core import Context, Parameter
from typer._click.types import StringParamType
from typer.core import TyperGroup
from typer.models import TyperPath

from dispatcher.domain.errors import InvalidInput
from dispatcher.domain.text import is_encodable, not_utf8


class AuditText(StringParamType):
    """Text for the audit trail: handed on as typed, for the gate to refuse and record."""


class PathText(StringParamType):
    """A file name or database URL taken as a string: any bytes, like a Path."""


AUDIT_TEXT, PATH_TEXT = AuditText(), PathText()
PASSED_ON = (AuditText, PathText, TyperPath)


def refuse_undecodable_arguments(ctx: Context) -> None:
    """Raise InvalidInput naming the first text parameter of the command line that is not
    UTF-8 and is neither a file name nor audit text. `ctx` is the root context, parsed.

    Costs nothing on ordinary input; otherwise the command's own parameters are parsed once
    more, leniently (no callbacks, no errors), to learn which parameter holds which value.
    """
    _check(ctx)
    rest = [*ctx._protected_args, *ctx.args]
    if all(is_encodable(arg) for arg in rest):
        return
    group, parent = ctx.command, ctx
    while isinstance(group, TyperGroup) and rest:
        name, command, rest = group.resolve_command(parent, rest)
        if command is None:
            return  # Click reports the unknown command when it runs
        parent = command.make_context(name, rest, parent=parent, resilient_parsing=True)
        _check(parent)
        group, rest = command, [*parent._protected_args, *parent.args]


def _check(ctx: Context) -> None:
    for param in ctx.command.params:
        if isinstance(param.type, PASSED_ON) or param.name is None:
            continue
        for value in _texts(ctx.params.get(param.name)):
            message = not_utf8(_label(param), value)
            if message is not None:
                raise InvalidInput(message)


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


def _label(param: Parameter) -> str:
    if param.param_type_name == "option" and param.opts:
        return max(param.opts, key=len)
    return param.human_readable_name
