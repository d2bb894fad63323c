"""Fixtures shared by every test package."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

EVENTS_DIR = Path(__file__).parent / "events"


@pytest.fixture
def load_event() -> Callable[[str], Any]:
    """Load ``tests/events/<name>.json`` as a fresh deep copy."""
    cache: dict[str, Any] = {}

    def load(name: str) -> Any:
        if name not in cache:
            cache[name] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
        return copy.deepcopy(cache[name])

    return load
