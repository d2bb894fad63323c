"""Errors the analysis raises, all rooted at :class:`ResultsError`.

```
ResultsError
├── RunFolderError   a run folder or one of its files is missing or unreadable
├── FormatError      a line of a run file breaks its format (file:line in the message)
└── GateConfigError  a gate table is invalid (the key in the message)
```

A malformed line is either fatal (strict reading: the gate must not decide on
partly read data) or counted and kept as an example (:class:`MalformedLines`),
so that one truncated line does not hide a whole report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


class ResultsError(Exception):
    """The run could not be analysed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class RunFolderError(ResultsError):
    """The run folder is missing a file or holds one that cannot be read."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.path, self.reason))


class FormatError(ResultsError):
    """One line of a run file does not follow docs/formats.md."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        super().__init__(f"{source}:{line}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, int, str]]:
        return (type(self), (self.source, self.line, self.reason))

    @property
    def location(self) -> str:
        """``file:line`` of the offending line."""
        return f"{self.source}:{self.line}"


class GateConfigError(ResultsError):
    """The gate table is invalid."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        super().__init__(f"{source}: gate key {key!r}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        return (type(self), (self.source, self.key, self.reason))


@dataclass(slots=True)
class MalformedLines:
    """Malformed lines met while reading: raised at once when strict, else counted."""

    strict: bool = False
    keep: int = 20
    count: int = 0
    examples: list[FormatError] = field(default_factory=list)

    def add(self, error: FormatError) -> None:
        """Record one malformed line (or raise it when strict)."""
        if self.strict:
            raise error
        self.count += 1
        if len(self.examples) < self.keep:
            self.examples.append(error)
            logger.warning("skipping malformed line: %s", error)

    def messages(self) -> list[str]:
        """The kept examples as ``file:line: reason`` strings."""
        return [str(error) for error in self.examples]
