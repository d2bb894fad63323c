"""Errors of the chaos package, each with the exit code a command reports it with.

```
ChaosError              exit 2: a fault could not be set up or taken down as asked
├── FaultSyntaxError    a fault spelling, duration, bandwidth or probability is not valid
├── TargetError         the fault names a region or domain the distribution does not have
├── ControlError        the control API refused a request or could not be reached
├── RollbackError       a fault could not be confirmed removed (its lease still ends it)
├── NotAllowedError     an AWS target is not in the allow list (nothing was called)
└── JournalError        an AWS fault's journal file cannot be read, written or trusted
```
"""

from __future__ import annotations


class ChaosError(Exception):
    """A fault could not be set up or taken down as asked."""

    exit_code = 2

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class FaultSyntaxError(ChaosError):
    """A fault spelling is not valid."""


class TargetError(ChaosError):
    """The fault names a region or domain the distribution does not have."""


class ControlError(ChaosError):
    """The control API refused a request or could not be reached."""

    def __init__(self, url: str, status: int | None, message: str) -> None:
        where = f"{url} answered {status}" if status is not None else f"{url} is unreachable"
        super().__init__(f"control API {where}: {message}")
        self.url = url
        self.status = status
        self.detail = message


class RollbackError(ChaosError):
    """A fault could not be confirmed removed; its lease still ends it."""


class NotAllowedError(ChaosError):
    """The AWS target is not in the allow list; nothing was called."""


class JournalError(ChaosError):
    """An AWS fault's journal file cannot be read, written or trusted."""
