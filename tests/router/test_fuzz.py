"""Malformed and unusual events never make the handler raise anything but EventError.

Two generators: arbitrary JSON-like values (mostly rejected by the guard), and
valid origin-request events with random parts replaced (mostly routed). The
default run takes 1,000 examples, sized for CI's 15-minute budget;
``EDGEDRILL_FUZZ_EXAMPLES=100000`` runs a longer search by hand.
"""

from __future__ import annotations

import copy
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.errors import EventError
from router.handler import create_environment
from tests.router.conftest import (
    EUW1,
    USE1,
    FakeClock,
    ScriptedResolver,
    answer,
    failure,
    make_config,
)

EVENTS = Path(__file__).parent.parent / "events"
SAMPLES = [json.loads(path.read_text()) for path in sorted(EVENTS.glob("*.json"))]
EXAMPLES = int(os.environ.get("EDGEDRILL_FUZZ_EXAMPLES", "1000"))

# Text with lone surrogates too: JSON parsers (and CloudFront's own
# serialisation) can hand them over, and stdout cannot encode them as UTF-8.
hostile_text = st.text(st.characters() | st.integers(0xD800, 0xDFFF).map(chr), max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | hostile_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4)
    ),
    max_leaves=20,
)

# Keys the router reads, so that replacements land where they matter.
PATHS = [
    ("Records",),
    ("Records", 0),
    ("Records", 0, "cf"),
    ("Records", 0, "cf", "config"),
    ("Records", 0, "cf", "config", "eventType"),
    ("Records", 0, "cf", "config", "requestId"),
    ("Records", 0, "cf", "request"),
    ("Records", 0, "cf", "request", "uri"),
    ("Records", 0, "cf", "request", "method"),
    ("Records", 0, "cf", "request", "querystring"),
    ("Records", 0, "cf", "request", "headers"),
    ("Records", 0, "cf", "request", "headers", "host"),
    ("Records", 0, "cf", "request", "headers", "host", 0),
    ("Records", 0, "cf", "request", "origin"),
    ("Records", 0, "cf", "request", "origin", "s3"),
    ("Records", 0, "cf", "request", "origin", "s3", "domainName"),
    ("Records", 0, "cf", "request", "origin", "s3", "region"),
    ("Records", 0, "cf", "request", "origin", "custom"),
    ("Records", 0, "cf", "request", "origin", "custom", "domainName"),
]


def _mutate(event: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    event = copy.deepcopy(event)
    node = event
    for step in path[:-1]:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return event
    try:
        if delete:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    except (KeyError, IndexError, TypeError):
        pass
    return event


def strict_stdout_sink(line: str) -> None:
    """Write as Lambda's stdout does: UTF-8, strict; the line must parse back as JSON."""
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
    stream.write(line + "\n")
    stream.flush()
    document = json.loads(raw.getvalue().decode("utf-8"))
    assert document["event"] == "route"


def _environments():
    healthy = create_environment(
        make_config(),
        resolver=ScriptedResolver([answer(USE1, EUW1)]),
        clock=FakeClock(),
        sink=strict_stdout_sink,
    )
    broken = create_environment(
        make_config(),
        resolver=ScriptedResolver([failure()]),
        clock=FakeClock(),
        sink=strict_stdout_sink,
    )
    return healthy, broken


HEALTHY, BROKEN = _environments()


def _check(event: Any) -> None:
    for env in (HEALTHY, BROKEN):
        try:
            result = env.handle(copy.deepcopy(event), None)
        except EventError:
            continue
        assert isinstance(result, dict)
        json.dumps(result)


mutated_events = st.builds(
    lambda sample, mutations: _apply(sample, mutations),
    st.sampled_from(SAMPLES),
    st.lists(st.tuples(st.sampled_from(PATHS), json_values, st.booleans()), min_size=1, max_size=3),
)
arbitrary_events = json_values | st.fixed_dictionaries(
    {"Records": st.lists(json_values, max_size=2)}
)


def _apply(sample: Any, mutations: list[Any]) -> Any:
    event = sample
    for path, value, delete in mutations:
        event = _mutate(event, path, value, delete)
    return event


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(event=mutated_events | arbitrary_events)
def test_malformed_events_raise_only_event_error(event: Any) -> None:
    _check(event)


def test_a_lone_surrogate_in_the_request_id_is_escaped_in_the_log_line() -> None:
    lines: list[str] = []

    def sink(line: str) -> None:
        strict_stdout_sink(line)
        lines.append(line)

    env = create_environment(
        make_config(), resolver=ScriptedResolver([failure()]), clock=FakeClock(), sink=sink
    )
    event = json.loads((EVENTS / "s3-origin.json").read_text())
    event["Records"][0]["cf"]["config"]["requestId"] = "id-\udc80-end"
    event["Records"][0]["cf"]["request"]["origin"]["s3"]["domainName"] = "a\ud800.example.com"
    env.handle(event, None)
    assert json.loads(lines[-1])["request_id"] == "id-\udc80-end"
    assert lines[-1].isascii()


def test_a_sink_that_fails_costs_the_line_not_the_request() -> None:
    def broken_pipe(_line: str) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    env = create_environment(
        make_config(),
        resolver=ScriptedResolver([answer(USE1)]),
        clock=FakeClock(),
        sink=broken_pipe,
    )
    sample = next(
        s for s in SAMPLES if s["Records"][0]["cf"]["config"]["eventType"] == "origin-request"
    )
    request = env.handle(copy.deepcopy(sample), None)
    assert request["headers"]["host"][0]["value"] == USE1


def test_valid_samples_are_routed() -> None:
    for sample in SAMPLES:
        if sample["Records"][0]["cf"]["config"]["eventType"] != "origin-request":
            with pytest.raises(EventError):
                HEALTHY.handle(copy.deepcopy(sample), None)
            continue
        request = HEALTHY.handle(copy.deepcopy(sample), None)
        assert request["headers"]["host"][0]["value"] in (USE1, EUW1)
