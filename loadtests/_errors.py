"""Errors the ``edgedrill`` CLI reports, each with its exit code.

```
CliError        exit 2: usage or input error (bad flag, bad file, malformed JSON)
└── GateFailed  exit 1: a drill ran but breached a threshold
```
"""

from __future__ import annotations


class CliError(Exception):
    """The command could not run as asked."""

    exit_code = 2

    def __init__(self, message: str | None = None, *, exit_code: int | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        if exit_code is not None:
            self.exit_code = exit_code


class GateFailed(CliError):
    """A capacity gate threshold was breached."""

    exit_code = 1
