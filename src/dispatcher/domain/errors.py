"""One exception hierarchy; the CLI maps it to exit codes (1 failed, 2 blocked)."""

from __future__ import annotations


class DispatcherError(Exception):
    """Base of every error a user can see; its message is one human sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(DispatcherError):
    """A named thing (run, request, user) does not exist in this tenant/site."""


class InvalidInput(DispatcherError):
    """Input that cannot be accepted: malformed file, bad option value, wrong week."""


class Conflict(DispatcherError):
    """The request contradicts the current state (duplicate, already active, stale)."""


class DatabaseUnavailable(DispatcherError):
    """The database cannot be opened or created (bad path, permissions, not a database)."""


class DatabaseBusy(DispatcherError):
    """Another process held the database for longer than the busy timeout."""


class IntegrityDamage(DispatcherError):
    """Stored data fails its own checks (broken chain, mismatched evidence, refused write)."""


class GateBlocked(DispatcherError):
    """A gate refused the action; exit code 2 and a `Blocked:` line."""

    def __init__(self, message: str, check: str = "") -> None:
        super().__init__(message)
        self.check = check
