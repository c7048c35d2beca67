"""Builds engines and units of work for commands: the one cli module that touches db/."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dispatcher.config import Settings
from dispatcher.domain.errors import DatabaseUnavailable, InvalidInput

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from dispatcher.db.unit_of_work import UnitOfWork

_engines: dict[str, Engine] = {}
# Databases this command created: (file, the highest folder made for it, or None). A command
# that fails before recording anything leaves none of them behind (discard_unused_created).
_created: list[tuple[str, Path, Path | None]] = []


def pinned_clock() -> Callable[[], datetime] | None:
    """The clock DISPATCHER_NOW pins (ISO timestamp), or None for real time. Only a database
    created as a demo or test database honours it (the unit of work checks)."""
    if not os.environ.get("DISPATCHER_NOW"):
        return None
    clock()  # refuse a malformed value at once
    return clock


def clock() -> datetime:
    """Now, in UTC: DISPATCHER_NOW when set, else the system's clock."""
    fixed = os.environ.get("DISPATCHER_NOW")
    if not fixed:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(fixed)
    except ValueError:
        raise InvalidInput(f"DISPATCHER_NOW={shown(fixed)} is not an ISO timestamp") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"DISPATCHER_NOW={shown(fixed)} needs a time zone (e.g. Z)")
    return moment.astimezone(UTC)


def shown(value: str) -> str:
    """An environment value in a message: quoted, bytes that were not UTF-8 and control
    characters (a newline would break the one-line message) written out."""
    from dispatcher.domain.text import escape_undecodable

    text = escape_undecodable(value)
    return "'" + "".join(c if c.isprintable() else repr(c)[1:-1] for c in text) + "'"


NO_DATABASE = (
    "No database at {path}: check --db (or DISPATCHER_DB), or create one with "
    "`dispatcher --db {path} db init`"
)


def engine(
    settings: Settings, *, migrate: bool = True, create: bool = False, note: bool = True
) -> Engine:
    """A cached engine for the settings' database, upgraded to the newest schema on first use.

    A SQLite file that does not exist is created only by a command that starts a database
    (`create`: db init, demo, import-run, solve, the first user or setting, the kill switch),
    with a note on stderr; any other command names the path and stops (a mistyped --db made a
    new empty database, folders included, and `status` showed it as if it were the depot's)."""
    from sqlalchemy.exc import DBAPIError

    from dispatcher.db.engine import make_engine, sqlite_url
    from dispatcher.db.schema import ensure_schema

    if settings.url not in _engines:
        from sqlalchemy.exc import ArgumentError

        path = settings.sqlite_path
        if path is not None and not path.expanduser().exists():
            if path.expanduser().is_symlink():  # followed, it would make a file elsewhere
                raise _unavailable(settings, "a symbolic link to a file that does not exist")
            if not create:
                raise DatabaseUnavailable(NO_DATABASE.format(path=settings.shown))
            if note:
                sys.stderr.write(f"Note: creating a new database at {path}\n")
            file = path.expanduser().absolute()
            made = next((p for p in reversed(file.parents) if not p.exists()), None)
            _created.append((settings.url, file, made))
        try:
            built = make_engine(settings.url if path is None else sqlite_url(path))
        except OSError as exc:
            raise _unavailable(settings, exc.strerror or str(exc)) from None
        except (ValueError, ArgumentError) as exc:  # a URL SQLAlchemy cannot read
            raise InvalidInput(f"--db {settings.shown} is not a database URL ({exc})") from None
        try:
            if migrate:
                ensure_schema(built)
        except BaseException as exc:
            built.dispose()  # close what the failed check opened
            if isinstance(exc, OSError):
                raise _unavailable(settings, exc.strerror or str(exc)) from None
            if isinstance(exc, DBAPIError):
                reason = str(exc.orig) if exc.orig is not None else str(exc)
                raise _unavailable(settings, reason) from None
            raise
        _engines[settings.url] = built
    return _engines[settings.url]


def _unavailable(settings: Settings, reason: str) -> DatabaseUnavailable:
    from dispatcher.db.engine import unwritable_reason

    path = settings.sqlite_path
    cause = None if path is None or not path.exists() else unwritable_reason(path)
    shown = reason if cause is None else f"{reason} ({cause})"
    return DatabaseUnavailable(f"Cannot open database {settings.shown}: {shown}")


def unit_of_work(
    settings: Settings,
    *,
    write: bool = False,
    clock: Callable[[], datetime] | None = None,
    simulated: bool | None = None,
    platform: bool = False,
    registry: bool = False,
    create: bool = False,
    note: bool = True,
) -> UnitOfWork:
    """One command's unit of work (SQLite or PostgreSQL, the same class), on real time unless
    a clock is pinned (`clock`, else DISPATCHER_NOW). `create`: a SQLite file that does not
    exist yet is made (see `engine`), with a note on stderr unless `note` is off."""
    from dispatcher.db.unit_of_work import UnitOfWork

    pinned = clock or pinned_clock()
    return UnitOfWork(
        engine(settings, create=create, note=note),
        settings.tenant,
        settings.site,
        pinned,
        write=write,
        simulated=simulated,
        platform=platform,
        registry=registry,
    )


def file_units(path: Path, tenant: str, site: str) -> UnitOfWork:
    """A read unit of work over another SQLite file (a backup being checked)."""
    from dispatcher.db.engine import make_engine, sqlite_url
    from dispatcher.db.unit_of_work import UnitOfWork

    return UnitOfWork(make_engine(sqlite_url(path)), tenant, site, write=False)


def reset() -> None:
    """Forget cached engines (tests switch databases between invocations)."""
    for built in _engines.values():
        built.dispose()
    _engines.clear()
    _created.clear()


def discard_unused_created() -> None:
    """After a failed command: remove each database it created that holds no audit event
    (nothing was recorded in it), with the folders made for it, so a mistyped --db with a
    command that then fails leaves no file behind. A database with events stays."""
    from sqlalchemy import select

    from dispatcher.db.tables import audit_events

    for url, file, made in list(_created):
        built = _engines.pop(url, None)
        recorded = True
        if built is not None:
            try:
                with built.connect() as connection:
                    found = connection.execute(select(audit_events.c.seq).limit(1)).first()
                recorded = found is not None
            except Exception:  # no schema yet (it failed on the way): nothing recorded
                recorded = False
            built.dispose()
        if recorded:
            continue
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{file}{suffix}").unlink(missing_ok=True)
        folder = file.parent
        while made is not None and folder != made.parent and folder.exists():
            try:
                folder.rmdir()  # only if empty
            except OSError:
                break
            folder = folder.parent
    _created.clear()
