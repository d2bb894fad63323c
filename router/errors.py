"""Errors the router can raise, all rooted at :class:`RouterError`.

```
RouterError
├── ConfigError   the bundled config.json is missing or invalid (caught at build time)
└── EventError    the event is not a CloudFront origin-request event we can route
```

DNS problems are not errors here: the handler turns them into a stale answer
or the distribution's default origin, and never raises for them.
"""

from __future__ import annotations


class RouterError(Exception):
    """The router could not do what it was asked."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigError(RouterError):
    """The router config is invalid."""

    def __init__(self, key: str, reason: str, *, source: str | None = None) -> None:
        self.key = key
        self.reason = reason
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}config key {key!r}: {reason}")


class EventError(RouterError):
    """The event is not a CloudFront origin-request event."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"event {path}: {reason}")
