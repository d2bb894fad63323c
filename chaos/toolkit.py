"""edgedrill's faults and measures for the Chaos Toolkit: actions with rollbacks, and probes.

An experiment names this module as a Python provider (``"module":
"chaos.toolkit"``) and finds the local distribution through its configuration
key ``edgedrill_state``, the path of the state file ``edgedrill up`` wrote::

    "configuration": {
        "edgedrill_state": {"type": "env", "key": "EDGEDRILL_STATE",
                            "default": ".edgedrill/state.json"}
    }

Without that key the path comes from ``EDGEDRILL_STATE``, else
``.edgedrill/state.json``. Actions: :func:`inject_fault` (any spelling of
``edgedrill chaos inject``), :func:`rollback_faults` (its rollback),
:func:`clear_faults`. Probes: :func:`edge_error_rate`, :func:`served_regions`,
:func:`active_faults`. See ``chaos/examples/bucket-outage.json``.

The toolkit calls these functions one at a time and keeps no object between
them, so the faults this process injected are held in a module-level registry
(:func:`reset_held` empties it for tests). Each renews its lease from a daemon
thread while ``chaos run`` lives; if ``chaos run`` dies without its rollbacks,
the lease ends the fault, and :mod:`atexit` rolls back what is still held when
the interpreter exits normally.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from chaos.control import ControlClient
from chaos.errors import ChaosError
from chaos.faults import parse_fault
from chaos.injection import Injection, LeaseKeeper, inject
from edge.fault_specs import DEFAULT_LEASE_S
from edge.stack import DEFAULT_STATE, StackError, StackState

if TYPE_CHECKING:
    from collections.abc import Mapping

STATE_KEY = "edgedrill_state"
STATE_ENV = "EDGEDRILL_STATE"
# The edge names the region that answered a miss in this response header.
ORIGIN_REGION_HEADER = "x-edgedrill-origin-region"
_PROBE_TIMEOUT_S = 10.0
_MAX_PROBE_REQUESTS = 10_000

_held: list[tuple[Injection, LeaseKeeper]] = []
_held_lock = threading.Lock()


def state_path(configuration: Mapping[str, Any] | None = None) -> Path:
    """The state file: ``edgedrill_state`` of the configuration, else ``EDGEDRILL_STATE``."""
    configured = (configuration or {}).get(STATE_KEY)
    return Path(str(configured or os.environ.get(STATE_ENV) or DEFAULT_STATE))


def _state(configuration: Mapping[str, Any] | None) -> StackState:
    path = state_path(configuration)
    try:
        return StackState.load(path)
    except (StackError, OSError) as exc:
        msg = f"{path}: no usable edgedrill state file (is `edgedrill up` running?): {exc}"
        raise ChaosError(msg) from exc


def inject_fault(
    fault: str,
    region: str | None = None,
    probability: float | None = None,
    lease_s: float = DEFAULT_LEASE_S,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Action: inject ``fault`` (e.g. ``bucket:503``) and hold it until :func:`rollback_faults`."""
    state = _state(configuration)
    parsed = parse_fault(fault, region=region, probability=probability)
    injection = inject(parsed, ControlClient.from_state(state), state, lease_s=float(lease_s))
    keeper = LeaseKeeper(injection).start()
    with _held_lock:
        _held.append((injection, keeper))
    return {
        "fault": parsed.spelling,
        "target": parsed.describe(state),
        "ids": injection.ids,
        "start": injection.start,
        "lease_s": injection.lease_s,
    }


def rollback_faults(configuration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Rollback: remove every fault this process injected, newest first."""
    del configuration  # the injections know their own control API
    with _held_lock:
        held = list(reversed(_held))
        _held.clear()
    removed: list[str] = []
    unconfirmed: list[str] = []
    for injection, keeper in held:
        keeper.stop()
        (removed if injection.rollback() else unconfirmed).extend(injection.ids)
    if unconfirmed:
        msg = f"rollback not confirmed for {', '.join(unconfirmed)} (their leases end them)"
        raise ChaosError(msg)
    return {"removed": removed}


def clear_faults(configuration: Mapping[str, Any] | None = None) -> int:
    """Action: remove every fault of the distribution, whoever injected it."""
    return ControlClient.from_state(_state(configuration)).clear()


def active_faults(configuration: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Probe: the distribution's live faults (id, target, kind, remaining lease)."""
    return ControlClient.from_state(_state(configuration)).list()


def _get(url: str, path: str) -> tuple[int, str]:
    """One GET through the edge; status 0 when the connection itself failed."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=_PROBE_TIMEOUT_S
    )
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader(ORIGIN_REGION_HEADER) or ""
    except OSError:
        return 0, ""
    finally:
        connection.close()


def _misses(state: StackState, requests: int) -> list[tuple[int, str]]:
    """GET sample objects with never-seen query strings: each is an edge cache miss."""
    if not 0 < requests <= _MAX_PROBE_REQUESTS:
        msg = f"requests must be within 1..{_MAX_PROBE_REQUESTS}, got {requests}"
        raise ChaosError(msg)
    if not state.sample_keys:
        msg = "the state file lists no sample keys to request"
        raise ChaosError(msg)
    probe = uuid.uuid4().hex[:8]
    results = []
    for n in range(requests):
        key = state.sample_keys[n % len(state.sample_keys)]
        path = f"/{quote(key.lstrip('/'))}?edgedrill-probe={probe}-{n}"
        results.append(_get(state.edge_url, path))
    return results


def edge_error_rate(requests: int = 50, configuration: Mapping[str, Any] | None = None) -> float:
    """Probe: the share of ``requests`` cache misses through the edge that a viewer sees fail."""
    results = _misses(_state(configuration), int(requests))
    failed = sum(1 for status, _region in results if status == 0 or status >= 500)
    return failed / len(results)


def served_regions(
    requests: int = 20, configuration: Mapping[str, Any] | None = None
) -> dict[str, int]:
    """Probe: how many of ``requests`` cache misses each region answered (``""``: none)."""
    counts: dict[str, int] = {}
    for _status, region in _misses(_state(configuration), int(requests)):
        counts[region] = counts.get(region, 0) + 1
    return counts


def reset_held() -> None:
    """Roll back and forget every fault this process holds (tests, interpreter exit)."""
    # Leases end whatever could not be confirmed removed.
    with contextlib.suppress(ChaosError):
        rollback_faults()


atexit.register(reset_held)
