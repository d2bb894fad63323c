"""The root of the errors a scenario raises inside Locust, with the exit code they end it with.

```
LoadtestError     exit 2: an option, input file or run folder is not usable
├── ScenarioError (loadtests._options)
└── SeedError     (loadtests._seed)
```

A run folder that cannot be created raises the root itself.

The ``edgedrill`` command reports these the way it reports its own errors.
"""

from __future__ import annotations


class LoadtestError(Exception):
    """The scenario could not run as asked."""

    exit_code = 2

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
