from __future__ import annotations

import argparse
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaos.timeline import TimedFault, parse_timed_fault
from edge.corpus import corpus
from edge.settings import CORPUS_SEED, OBJECTS, ROUTER_MIN_TTL
from edge.stack import ROUTING_NAME
from edgedrill.cli import main
from edgedrill.drill import (
    _tee,
    add_drill_arguments,
    default_drill_args,
    default_faults,
    drill_args,
    duration_args,
    locustfile,
    log_passed_on,
    run_drill,
    run_drill_from_args,
    spike_timeline,
)
from edgedrill.errors import CliError, DrillError
from loadtests._options import (
    SPIKE_AT,
    SPIKE_HOLD,
    add_common_arguments,
    add_spike_arguments,
    spike_plan,
)
from results.gate import Metric, default_gate
from router.config import RouterConfig, parse_config
from router.dns_cache import DnsCache
from router.resolver import LookupResult, LookupStatus


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_drill_arguments(p)
    return p


def test_defaults():
    args = parser().parse_args([])
    assert args.scenario == "spike"
    assert args.duration is None
    assert args.out is None
    # The default drill sizes the local distribution so the router is exercised,
    # and puts a router-DNS fault and a bucket fault inside the spike.
    assert drill_args(args) == [
        "--objects",
        str(OBJECTS.default),
        "--fault",
        "bucket:503,at=17.5s,for=8.8s",
        "--fault",
        "dns:servfail,at=28.8s,for=8.8s",
        "--txt-ttl",
        "33",
    ]


def test_the_default_faults_sit_inside_the_spike_and_the_ttl_expires_in_the_dns_fault():
    for duration in (None, 8.0, 12.0, 60.0, 600.0):
        faults, ttl = default_faults(duration)
        at = SPIKE_AT.default if duration is None else duration / 4
        hold = SPIKE_HOLD.default if duration is None else duration / 2
        windows = [parse_timed_fault(text) for text in faults]
        assert [w.fault.spelling for w in windows] == ["bucket:503", "dns:servfail"]
        bucket, dns = windows
        assert at <= bucket.at_s < bucket.at_s + bucket.for_s < dns.at_s
        assert dns.at_s + dns.for_s <= at + hold
        # The answer cached at the first miss (t = 0) expires inside the DNS fault.
        extra = default_drill_args(duration)
        min_ttl = int(extra[extra.index("--router-min-ttl") + 1]) if ttl < 5 else 5
        assert min_ttl <= ROUTER_MIN_TTL.default
        # The router clamps the TTL to at least min_ttl; it must still expire in the
        # fault: the first answer's expiry, or any phase when the TTL fits in the fault.
        effective = max(ttl, min_ttl)
        assert effective <= dns.for_s or dns.at_s <= effective <= dns.at_s + dns.for_s


# -- the default drill's router DNS queries, against the gate's dns_queries_per_1k ---------

# The gate the project's own pyproject.toml sets, as `edgedrill check` reads it.
_GATE_QUERIES_PER_1K = next(
    t.limit
    for t in default_gate(Path(__file__).parents[2] / "pyproject.toml").thresholds
    if t.metric is Metric.DNS_QUERIES
)
_MAX_AGE = re.compile(r"max-age=(\d+)")


@dataclass(frozen=True, slots=True)
class _DefaultDrill:
    """The default drill as Locust gets it: its misses, faults and routing TTL."""

    misses: list[float]  # offsets of each key's first request, the edge's misses
    end: float
    bucket: TimedFault
    dns: TimedFault
    txt_ttl: int
    router_min_ttl: int


def _default_drill() -> _DefaultDrill:
    locust = argparse.ArgumentParser()
    add_common_arguments(locust)
    add_spike_arguments(locust)
    options = locust.parse_args(drill_args(parser().parse_args([])))
    objects = corpus(options.objects, CORPUS_SEED.default)
    plan = spike_plan(options, [item.key for item in objects])
    # Every object stays in the edge cache for the whole drill: a key misses once.
    assert min(int(_MAX_AGE.findall(o.cache_control)[0]) for o in objects) > plan.duration
    first: dict[str, float] = {}
    for ticket in plan.tickets(0, 1):
        first.setdefault(ticket.path, ticket.offset)
    faults = {f.fault.spelling: f for f in map(parse_timed_fault, options.fault.split())}
    return _DefaultDrill(
        sorted(first.values()),
        plan.duration,
        faults["bucket:503"],
        faults["dns:servfail"],
        options.txt_ttl,
        options.router_min_ttl,
    )


class _ZoneUnderFault:
    """The local zone's routing TXT: a fixed TTL, SERVFAIL while the DNS fault lasts."""

    def __init__(self, clock: list[float], drill: _DefaultDrill) -> None:
        self._clock = clock
        self._drill = drill
        self.asked: list[float] = []

    def lookup_txt(self, name: str, timeout: float) -> LookupResult:
        now = self._clock[0]
        self.asked.append(now)
        dns = self._drill.dns
        if dns.at_s <= now <= dns.at_s + dns.for_s:
            return LookupResult(LookupStatus.FAILURE, reason="SERVFAIL", queries=1)
        return LookupResult(LookupStatus.ANSWER, ("a",), ttl=self._drill.txt_ttl, queries=1)


def _router_config(drill: _DefaultDrill) -> RouterConfig:
    """The local distribution's router config (``edge.stack``), the rest at its defaults."""
    return parse_config(
        {
            "routing_name": ROUTING_NAME,
            "nameservers": ["127.0.0.1:53"],
            "origins": [
                {"region": "us-east-1", "domain": "a.s3.us-east-1.amazonaws.com", "weight": 1},
                {"region": "eu-west-1", "domain": "b.s3.eu-west-1.amazonaws.com", "weight": 1},
            ],
            "min_ttl": drill.router_min_ttl,
        }
    )


def _environment(drill: _DefaultDrill, started: float) -> tuple[_ZoneUnderFault, DnsCache]:
    """One execution environment's DNS cache, invoked at every miss from ``started`` on."""
    config = _router_config(drill)
    clock = [started]
    zone = _ZoneUnderFault(clock, drill)
    cache = DnsCache(config, zone, clock=lambda: clock[0])
    for offset in drill.misses:
        if offset >= started:
            clock[0] = offset
            cache.lookup(config.lookup_timeout_ms / 1000)
    clock[0] = drill.end
    return zone, cache


def test_the_default_drills_dns_queries_do_not_depend_on_its_last_seconds():
    drill = _default_drill()
    dns_end = drill.dns.at_s + drill.dns.for_s
    zone, cache = _environment(drill, drill.misses[0])
    # The first environment asks at its first miss, and once more when that answer
    # expires, seconds inside the DNS fault (it fails; the stale answer is served).
    assert len(zone.asked) == 2, zone.asked
    first, failed = zone.asked
    assert first == drill.misses[0]
    assert drill.dns.at_s + 3 <= failed <= dns_end - 3
    # Its next query (failure_recheck_s later) comes well after the drill's end, not
    # in its last seconds, where a late or early miss would add it or not.
    assert cache.answers_without_query(within=5.0)
    # So does any environment's after a failure: no refresh that follows the fault
    # lands inside the drill.
    assert drill.dns.at_s + _router_config(drill).failure_recheck_s >= drill.end + 3
    # An environment started at a later miss (a cold start while another one was
    # busy) asks once or twice, never more: each query the drill makes is a planned one.
    for started in drill.misses[1:]:
        assert 1 <= len(_environment(drill, started)[0].asked) <= 2


def test_the_default_drill_stays_well_within_the_gates_dns_query_budget():
    drill = _default_drill()
    queries = len(_environment(drill, drill.misses[0])[0].asked)
    # At least one invocation per miss; a miss during the bucket fault that the router
    # sends to the failing primary (one in two: equal weights) runs it again.
    bucket_end = drill.bucket.at_s + drill.bucket.for_s
    failovers = sum(drill.bucket.at_s <= t <= bucket_end for t in drill.misses) / 2
    expected = len(drill.misses) + failovers
    assert 1000 * queries / len(drill.misses) < 0.75 * _GATE_QUERIES_PER_1K
    # One unplanned query more (a second environment's cold start) still passes.
    assert 1000 * (queries + 1) / expected < 0.9 * _GATE_QUERIES_PER_1K


@pytest.mark.parametrize(
    "given",
    [
        ["--no-faults"],
        ["--fault", "lambda:error,at=1s,for=1s"],
        ["--host", "https://d1.cloudfront.net"],
        ["--scenario", "replay", "--log", "x.log"],
        ["--", "--spike-at", "5"],
        ["--", "--txt-ttl", "60"],
    ],
)
def test_no_default_faults_when_the_drill_is_not_the_default(given: list[str]) -> None:
    extra = drill_args(parser().parse_args(given))
    assert extra.count("--fault") == (1 if "--fault" in given else 0)
    assert "dns:servfail,at=28.8s,for=8.8s" not in extra
    assert extra.count("--txt-ttl") == (1 if "--txt-ttl" in given else 0)


def test_objects_are_not_sent_to_a_real_distribution():
    args = parser().parse_args(["--host", "https://d1.cloudfront.net", "--objects", "5"])
    assert "--objects" not in drill_args(args)


@pytest.mark.parametrize("value", ["0", "100001", "1.5", "many"])
def test_objects_out_of_range_are_refused_when_parsed(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        parser().parse_args(["--objects", value])
    assert caught.value.code == 2
    assert "--objects: must be" in capsys.readouterr().err


def test_options_become_locust_arguments():
    args = parser().parse_args(
        [
            "--host",
            "https://d1.cloudfront.net",
            "--keys",
            "k.txt",
            "--processes",
            "2",
            "--baseline-rps",
            "3",
            "--",
            "--arrivals",
            "poisson",
        ]
    )
    assert drill_args(args) == [
        "--host",
        "https://d1.cloudfront.net",
        "--keys",
        "k.txt",
        "--baseline-rps",
        "3.0",
        "--processes",
        "2",
        "--arrivals",
        "poisson",
    ]


@pytest.mark.parametrize("bad", ["0", "-3", "nan", "soon"])
def test_duration_must_be_positive(bad, capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["--duration", bad])
    assert "--duration" in capsys.readouterr().err


def test_spike_timeline_is_one_two_one():
    assert spike_timeline(40) == [
        "--spike-at",
        "10",
        "--spike-hold",
        "20",
        "--cooldown",
        "10",
        "--ramp",
        "0",
    ]


def test_locustfiles_exist_and_unknown_scenarios_are_refused():
    assert locustfile("spike").name == "spike.py"
    assert locustfile("replay").is_file()
    with pytest.raises(CliError, match="--scenario"):
        locustfile("soak")


def test_replay_needs_a_log(tmp_path):
    args = parser().parse_args(["--scenario", "replay", "--out", str(tmp_path)])
    with pytest.raises(CliError, match="--log is required"):
        run_drill_from_args(args)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_a_failing_locust_is_reported_with_its_output(tmp_path):
    with pytest.raises(DrillError, match="exited with code 2") as caught:
        run_drill(
            out=tmp_path,
            extra_args=["--host", "http://127.0.0.1:9", "--baseline-rps", "-1"],
            quiet=True,
        )
    assert "--keys FILE is required" in str(caught.value) or "--baseline-rps" in str(caught.value)
    # Nothing was recorded: no run folder is left, Locust's output is in the message.
    assert "no run folder was kept" in str(caught.value)
    assert list(tmp_path.iterdir()) == []
    assert isinstance(caught.value, CliError)


@pytest.mark.slow
@pytest.mark.parametrize("junk", [b"not\ta\tlog\tline\n" * 3, b"\x00\xff\xfe binary\n"])
def test_a_replay_of_a_log_with_no_request_leaves_no_run_folder(tmp_path, capsys, junk):
    log = tmp_path / "junk.log"
    log.write_bytes(junk)
    out = tmp_path / "runs"
    code = main(["run", "--scenario", "replay", "--log", str(log), "--out", str(out), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no valid request" in err, err
    assert str(log) in err
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.slow
def test_a_replay_of_an_unreadable_log_leaves_no_run_folder(tmp_path, capsys):
    out = tmp_path / "runs"
    missing = tmp_path / "nowhere" / "access.log"
    code = main(["run", "--scenario", "replay", "--log", str(missing), "--out", str(out)])
    assert code == 2
    assert str(missing) in capsys.readouterr().err
    assert not out.exists() or list(out.iterdir()) == []


def test_a_failed_drill_keeps_a_folder_that_holds_records(tmp_path):
    from edgedrill.drill import _remove_unless_recorded

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "locust.log").write_text("error\n")
    recorded = tmp_path / "recorded"
    recorded.mkdir()
    (recorded / "requests.csv").write_text("start\n")
    assert _remove_unless_recorded(empty) is True
    assert not empty.exists()
    assert _remove_unless_recorded(recorded) is False
    assert (recorded / "requests.csv").is_file()


def test_bad_duration_is_refused():
    with pytest.raises(CliError, match="--duration"):
        run_drill(duration=float("nan"), out=Path("/nonexistent"))


def test_a_stray_argument_is_a_usage_error_naming_it(tmp_path: Path):
    with pytest.raises(
        CliError, match=r"unexpected argument 'SpikeUser': Locust options go after --$"
    ):
        drill_args(parser().parse_args(["SpikeUser"]))
    # A run folder given where --run was meant says so.
    with pytest.raises(CliError, match=r"is judged with --run DIR"):
        drill_args(parser().parse_args([str(tmp_path)]))
    # After --, anything goes to Locust (a user class name, say).
    assert drill_args(parser().parse_args(["--", "SpikeUser"]))[-1] == "SpikeUser"


def test_a_replay_duration_is_whole_seconds_for_locust():
    assert duration_args("replay", 30) == ["--run-time", "30s"]
    assert duration_args("replay", 30.2) == ["--run-time", "31s"]
    assert duration_args("replay", 1e6) == ["--run-time", "1000000s"]
    assert duration_args("spike", 8) == spike_timeline(8)


def test_a_log_after_the_double_dash_counts_in_either_form():
    assert log_passed_on(["--log", "a.log"])
    assert log_passed_on(["--speedup", "2", "--log=a.log"])
    assert not log_passed_on(["--logfile", "x"])
    assert not log_passed_on(None)


@pytest.mark.parametrize("kind", ["a file", "under a file"])
def test_an_unusable_out_is_a_usage_error_naming_it(tmp_path, capsys, kind):
    taken = tmp_path / "afile"
    taken.write_text("")
    out = taken if kind == "a file" else taken / "sub"
    assert main(["run", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--out {out}: cannot make a run folder there" in err
    assert "Traceback" not in err


class _Closed(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_output_is_drained_to_the_end_when_a_copy_fails():
    lines = [f"line {i}\n" for i in range(1000)]
    log, tail = io.StringIO(), list[str]()
    _tee(io.StringIO("".join(lines)), log, _Closed(), tail)  # e.g. `edgedrill run | head`
    assert log.getvalue() == "".join(lines)
    echo, tail = io.StringIO(), list[str]()
    _tee(io.StringIO("".join(lines)), _Closed(), echo, tail)  # e.g. a full disk
    assert echo.getvalue() == "".join(lines)
    assert tail[-1] == "line 999\n"
