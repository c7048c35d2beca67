"""The one place where errors become exit codes: 0 ok, 1 failed, 2 blocked by a gate."""

from __future__ import annotations

import codecs
import io
import sys
from collections.abc import Sequence
from typing import Any

from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer._click.exceptions import UsageError as ClickUsageError
from typer.core import TyperGroup
from typer.exceptions import Abort

from dispatcher.cli.arguments import refuse_undecodable_arguments
from dispatcher.domain.errors import DispatcherError, GateBlocked
from dispatcher.domain.text import escape_undecodable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BLOCKED = 2


def one_line(text: str) -> str:
    """The message as one visible line: control, format and separator characters (a pasted
    newline, a carriage return, a right-to-left override) are shown escaped, not obeyed, and
    bytes that were not UTF-8 as \\xff."""
    return "".join(c if c.isprintable() else _escaped(c) for c in text)


def _escaped(char: str) -> str:
    written_out = escape_undecodable(char)
    return repr(char)[1:-1] if written_out == char else written_out


ESCAPE_ERRORS = "dispatcher-escape"


def _write_out(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return escape_undecodable(error.object[error.start : error.end]), error.end


codecs.register_error(ESCAPE_ERRORS, _write_out)


def escape_unencodable_output() -> None:
    """Let stdout and stderr write bytes that were not UTF-8 out (\\xff) instead of raising:
    a file name from a mis-encoded terminal, echoed after its file was written, must not turn
    a finished command into a traceback. Text that encodes is written as before."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors=ESCAPE_ERRORS)


def report(exc: DispatcherError) -> int:
    """Print one stderr line for `exc` and return its exit code."""
    blocked = isinstance(exc, GateBlocked)
    sys.stdout.flush()  # whatever the command printed comes first
    sys.stderr.write(f"{'Blocked' if blocked else 'Error'}: {one_line(exc.message)}\n")
    return EXIT_BLOCKED if blocked else EXIT_FAILED


def _usage_line(exc: ClickException) -> str:
    message = exc.format_message().strip().replace("\n", " ")
    if isinstance(exc, ClickUsageError) and exc.ctx is not None:
        message += f" (see '{exc.ctx.command_path} --help')"
    return one_line(message)


class RootGroup(TyperGroup):
    """Root command group: usage errors exit 1 (not Click's 2); our errors print one line;
    text arguments that are not UTF-8 are refused before the command runs (cli/arguments.py)."""

    def invoke(self, ctx: Any) -> Any:
        refuse_undecodable_arguments(ctx)
        return super().invoke(ctx)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        escape_unencodable_output()
        try:
            result = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            code = result if isinstance(result, int) else EXIT_OK
        except NoArgsIsHelpError:
            code = EXIT_OK  # `dispatcher` or a group alone: its help is shown, nothing failed
        except ClickException as exc:
            sys.stderr.write(f"Error: {_usage_line(exc)}\n")
            code = EXIT_FAILED
        except Abort:
            sys.stderr.write("Error: Aborted\n")
            code = EXIT_FAILED
        except DispatcherError as exc:
            code = report(exc)
        if code != EXIT_OK:
            from dispatcher.cli import wiring

            wiring.discard_unused_created()
        if standalone_mode:
            sys.exit(code)
        return code
