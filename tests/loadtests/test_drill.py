from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from loadtests._drill import (
    DEFAULT_DRILL_OBJECTS,
    DrillError,
    add_drill_arguments,
    drill_args,
    locustfile,
    run_drill,
    run_drill_from_args,
    spike_timeline,
)
from loadtests._errors import CliError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_drill_arguments(p)
    return p


def test_defaults():
    args = parser().parse_args([])
    assert args.scenario == "spike"
    assert args.duration is None
    assert args.out is None
    # The default drill sizes the local distribution so the router is exercised.
    assert drill_args(args) == ["--objects", str(DEFAULT_DRILL_OBJECTS)]


def test_objects_are_not_sent_to_a_real_distribution():
    args = parser().parse_args(["--host", "https://d1.cloudfront.net", "--objects", "5"])
    assert "--objects" not in drill_args(args)


def test_objects_below_one_is_a_usage_error():
    with pytest.raises(CliError, match="--objects"):
        drill_args(parser().parse_args(["--objects", "0"]))


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
    (run_dir,) = tmp_path.iterdir()
    assert (run_dir / "locust.log").is_file()
    assert isinstance(caught.value, CliError)


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
