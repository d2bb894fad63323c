from __future__ import annotations

import argparse
import calendar

import pytest

from loadtests._errors import LoadtestError
from loadtests._options import (
    ScenarioError,
    add_common_arguments,
    add_replay_arguments,
    add_spike_arguments,
    check_host,
    local_workers_on_loopback,
    read_keys,
    replay_plan,
    same_host,
    spike_plan,
    validate_replay,
    validate_spike,
)
from loadtests._plans import pool_size

from .logs import Line, render, write_log

T0 = calendar.timegm((2026, 11, 26, 17, 31, 48, 0, 0, 0))


def parse(*args: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    add_spike_arguments(parser)
    add_replay_arguments(parser)
    return parser.parse_args(list(args))


def test_defaults_are_concrete_values_for_the_web_ui():
    options = parse()
    for name, value in vars(options).items():
        assert value is not None, name


def test_options_are_marked_for_locusts_web_ui():
    parser = argparse.ArgumentParser()
    add_spike_arguments(parser)
    marked = {
        a.dest: a.include_in_web_ui for a in parser._actions if hasattr(a, "include_in_web_ui")
    }
    assert marked["baseline_rps"] is True
    assert marked["spike_factor"] is True


def test_no_option_help_leaves_a_placeholder_for_the_web_ui():
    # Locust's web UI shows an option's help as written, without argparse's % expansion.
    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    add_spike_arguments(parser)
    add_replay_arguments(parser)
    helps = {a.dest: str(a.help) for a in parser._actions if a.dest != "help"}
    assert len(helps) > 20
    assert [dest for dest, text in helps.items() if "%(" in text] == []
    assert "(default: results/runs)" in helps["results_dir"]


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "localhost:8080", "d1.cloudfront.net", "ftp://x"])
def test_a_host_without_an_http_scheme_is_refused_naming_it(host: str) -> None:
    with pytest.raises(ScenarioError, match="--host must be an http"):
        check_host(host)


@pytest.mark.parametrize("host", ["http://127.0.0.1:8080", "https://d1.cloudfront.net"])
def test_http_hosts_pass_without_a_trailing_slash(host: str) -> None:
    assert check_host(host) == host
    assert check_host(host + "/") == host
    assert check_host("") == ""  # no --host: the local distribution


def test_the_same_distribution_is_recognised_by_scheme_host_and_port() -> None:
    assert same_host("http://127.0.0.1:8080", "http://127.0.0.1:8080/")
    assert same_host("HTTP://LocalHost:1", "http://localhost:1")
    assert not same_host("http://127.0.0.1:8080", "http://127.0.0.1:8081")
    assert not same_host("https://127.0.0.1:8080", "http://127.0.0.1:8080")


def test_the_default_spike_is_5_rps_stepping_20x():
    plan = spike_plan(parse(), ["a", "b"])
    assert plan.profile.rate(0) == 5
    assert plan.peak_rps == 100
    assert plan.duration == 55
    targets = plan.targets(1)
    assert (targets[14], targets[15], targets[39], targets[40]) == (5, 100, 100, 5)


def test_spike_tickets_ask_for_the_keys_as_paths():
    plan = spike_plan(parse("--spike-at", "1", "--spike-hold", "1", "--cooldown", "0"), ["m/a.jpg"])
    tickets = list(plan.tickets(0, 1))
    assert len(tickets) == 105
    assert {t.path for t in tickets} == {"/m/a.jpg"}
    assert {t.method for t in tickets} == {"GET"}


def test_split_tickets_cover_the_targets():
    plan = spike_plan(parse("--arrivals", "poisson", "--seed", "4"), ["a", "b", "c"])
    offsets = [t.offset for slot in range(3) for t in plan.tickets(slot, 3)]
    assert len(offsets) == sum(plan.targets(3))


BAD_SPIKE_OPTIONS = [
    ("--baseline-rps", "0"),
    ("--spike-factor", "-2"),
    ("--spike-hold", "nan"),
    ("--zipf-s", "-1"),
    ("--pool-latency", "0"),
    ("--objects", "0"),
    ("--objects", "2.5"),
    ("--memory-mb", "64"),
]


@pytest.mark.parametrize(("flag", "value"), BAD_SPIKE_OPTIONS)
def test_bad_spike_options_are_refused_by_the_parser(flag, value, capsys):
    with pytest.raises(SystemExit) as caught:
        parse(flag, value)
    assert caught.value.code == 2
    assert f"{flag}: must be" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "value"), BAD_SPIKE_OPTIONS)
def test_bad_values_set_past_the_parser_name_the_flag(flag, value):
    # Locust's web UI sets edited values on the options without the parser's type.
    options = parse()
    setattr(options, flag[2:].replace("-", "_"), float(value))
    with pytest.raises(ScenarioError, match=flag) as caught:
        spike_plan(options, ["a"])
    assert isinstance(caught.value, LoadtestError)
    assert caught.value.exit_code == 2


def test_a_spike_on_a_given_host_needs_keys(tmp_path):
    with pytest.raises(ScenarioError, match="--keys FILE is required"):
        validate_spike(parse(), local=False)
    validate_spike(parse(), local=True)
    keys = tmp_path / "keys.txt"
    keys.write_text("# objects\nmedia/a.jpg\n\n  media/b.jpg  \n")
    assert read_keys(str(keys)) == ["media/a.jpg", "media/b.jpg"]
    plan = spike_plan(parse("--keys", str(keys)), None)
    assert sorted(plan.keys.ranked) == ["media/a.jpg", "media/b.jpg"]


def test_bad_keys_files(tmp_path):
    with pytest.raises(ScenarioError, match="--keys: cannot read"):
        read_keys(str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.write_text("# nothing\n")
    with pytest.raises(ScenarioError, match="holds no keys"):
        read_keys(str(empty))
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        read_keys(str(binary))


def test_replay_plan_reads_the_log_and_counts_malformed_lines(tmp_path):
    log = write_log(
        tmp_path / "a.log",
        render([Line(T0 + i, f"/k{i}") for i in range(5)]) + "broken line\n",
    )
    plan = replay_plan(parse("--log", str(log), "--multiply", "2"))
    assert len(plan.requests) == 10
    assert len(plan.log.malformed) == 1
    assert sum(plan.targets(1)) == 10
    assert plan.summary()["log_requests"] == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--log PATH is required"),
        (["--log", "/nonexistent/log"], "does not exist"),
        (["--log", "{log}", "--window", "9:1"], "--window"),
        (["--log", "{log}", "--window", "500:600"], "no request of the log"),
        (["--log", "{junk}"], "no valid request"),
    ],
)
def test_bad_replay_input_is_rejected_before_anything_starts(tmp_path, args, message):
    log = write_log(tmp_path / "a.log", render([Line(T0, "/a"), Line(T0 + 3, "/b")]))
    junk = write_log(tmp_path / "junk.log", "nothing here\n")
    args = [a.format(log=log, junk=junk) for a in args]
    with pytest.raises(ScenarioError, match=message):
        validate_replay(parse(*args), local=True)


def test_a_speedup_of_zero_is_refused_past_the_parser_too(tmp_path, capsys):
    log = write_log(tmp_path / "a.log", render([Line(T0, "/a")]))
    with pytest.raises(SystemExit):
        parse("--log", str(log), "--speedup", "0")
    assert "--speedup: must be within (0, " in capsys.readouterr().err
    options = parse("--log", str(log))
    options.speedup = 0.0
    with pytest.raises(ScenarioError, match="--speedup"):
        validate_replay(options, local=True)


def test_pool_size_follows_littles_law():
    assert pool_size(100, 0.5) == 50
    assert pool_size(1, 0.5, slots=2) == 8


def locust_like_parser() -> argparse.ArgumentParser:
    """Locust's master flags with Locust's defaults (Locust itself is not imported here)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int)
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--master-bind-host", default="*")
    parser.add_argument("--master-bind-port", type=int, default=5557)
    parser.add_argument("--master-port", type=int, default=5557)
    local_workers_on_loopback(parser)
    return parser


def test_processes_put_the_master_on_a_free_loopback_port():
    options = locust_like_parser().parse_args(["--processes", "2"])
    assert options.master_bind_host == "127.0.0.1"
    assert options.master_bind_port == options.master_port != 5557


def test_processes_from_any_source_is_seen_after_the_parse():
    # A source that is not argv (locust.conf, LOCUST_PROCESSES) sets the
    # parsed value; the decision is taken on the parsed options.
    parser = locust_like_parser()
    parser.set_defaults(processes=2)
    options = parser.parse_args([])
    assert options.master_bind_host == "127.0.0.1"
    assert options.master_bind_port == options.master_port != 5557


@pytest.mark.parametrize(
    "argv",
    [
        ["--processes=2", "--master-bind-host", "0.0.0.0", "--master-bind-port", "6000"],
        ["--processes", "2", "--master-bind-host=0.0.0.0", "--master-port=6000"],
    ],
)
def test_explicit_master_flags_win(argv):
    options = locust_like_parser().parse_args(argv)
    assert options.master_bind_host == "0.0.0.0"
    assert 6000 in (options.master_bind_port, options.master_port)


def test_locusts_own_default_given_explicitly_wins():
    argv = ["--processes", "2", "--master-bind-host", "*", "--master-bind-port", "5557"]
    options = locust_like_parser().parse_args(argv)
    assert (options.master_bind_host, options.master_bind_port) == ("*", 5557)
    assert options.master_port == 5557


@pytest.mark.parametrize("argv", [[], ["--worker", "--processes", "2"]])
def test_without_a_forked_master_locusts_defaults_stand(argv):
    options = locust_like_parser().parse_args(argv)
    assert (options.master_bind_host, options.master_bind_port) == ("*", 5557)
    assert options.master_port == 5557


def test_the_parser_is_wrapped_once():
    parser = locust_like_parser()
    local_workers_on_loopback(parser)
    options = parser.parse_args([])
    assert (options.master_bind_host, options.master_bind_port) == ("*", 5557)
