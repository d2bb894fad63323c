"""Errors the ``edgedrill`` command reports, each with its exit code.

```
CliError            exit 2: usage or input error (bad flag, bad file, malformed JSON)
├── DrillError      exit 2: the drill did not run to completion
├── GateFailed      exit 1: a drill ran but breached a threshold
└── DrillAborted    exit 3: the drill's stop condition aborted it (faults rolled back,
                    its run folder kept and analysed)
```

Errors of the packages below (a scenario's ``LoadtestError``, the stack's
``StackError``, ``ResultsError``) are turned into a ``CliError`` by the command
that called them, or reported by :func:`edgedrill.cli.main` with their own
``exit_code``.
"""

from __future__ import annotations


class CliError(Exception):
    """The command could not run as asked."""

    exit_code = 2

    def __init__(self, message: str | None = None, *, exit_code: int | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        if exit_code is not None:
            self.exit_code = exit_code


class DrillError(CliError):
    """The drill did not run to completion."""


class GateFailed(CliError):
    """A capacity gate threshold was breached."""

    exit_code = 1


class DrillAborted(CliError):
    """The drill's stop condition aborted it; its faults were rolled back."""

    exit_code = 3
