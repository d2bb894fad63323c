"""Faults measured by where the misses went, the router's DNS and the errors in their window."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from results.analysis import analyse, load_run
from results.errors import FormatError
from results.gate import Outcome, evaluate, parse_gate
from results.plots import PLOTS, render
from results.report import render_html, report_page
from results.summary import summary
from tests.results.synthetic import (
    HIT,
    MISS,
    T0,
    Drill,
    FaultSpec,
    Invocation,
    Row,
    fault_document,
    generate,
    invocation_lines,
    minimal_run,
    write_fault_documents,
    write_lambda_log,
)

if TYPE_CHECKING:
    from pathlib import Path

    from matplotlib.figure import Figure

    from results.analysis import Analysis
    from tests.results.synthetic import Truth

EU = "eu-west-1"
US = "us-east-1"
BUCKET = "bucket:503 s3:eu-west-1"


def _as_read(epoch: float) -> float:
    """A start time as requests.csv holds it (microseconds), read back."""
    return float(f"{epoch:.6f}")


def _miss(at: float, region: str, status: int = 200) -> Row:
    return Row(T0 + at, 12.0, status=status, x_cache=MISS, origin_region=region)


def _bucket_run(tmp_path: Path, rows: list[Row], *, end: float | None = 20.0) -> Analysis:
    run_dir = minimal_run(tmp_path / "run", rows, seconds=30.0)
    write_fault_documents(
        run_dir / "faults.jsonl",
        [
            fault_document(
                "bucket:503",
                "s3:eu-west-1",
                T0 + 10.0,
                T0 + end if end is not None else None,
                region=EU,
                kind="slowdown",
            )
        ],
    )
    return analyse(load_run(run_dir, strict=True))


def test_failover_and_failback_from_the_answering_region(tmp_path: Path) -> None:
    rows = [
        _miss(5.0, EU),  # before the fault
        _miss(10.2, EU),
        _miss(11.0, US, status=503),
        _miss(12.4, EU),  # the last miss eu-west-1 answered during the fault
        _miss(13.0, US),
        Row(T0 + 15.0, 2.0, x_cache=HIT),
        _miss(19.9, US),
        _miss(20.5, US),  # after the end, still elsewhere
        _miss(23.25, EU),  # back
        _miss(25.0, EU),
    ]
    analysis = _bucket_run(tmp_path, rows)
    assert analysis.fault_windows is not None
    (window,) = analysis.fault_windows
    served = window.served
    assert served is not None
    assert served.region == EU
    assert served.failover_s == _as_read(T0 + 12.4) - (T0 + 10.0)
    assert served.failover_s == pytest.approx(2.4, abs=1e-6)
    assert served.failback_s == _as_read(T0 + 23.25) - (T0 + 20.0)
    assert served.failback_s == pytest.approx(3.25, abs=1e-6)
    assert (served.misses, served.misses_to_region) == (5, 2)
    assert (window.requests, window.errors) == (6, 1)
    assert window.start_offset_s == 10.0
    assert window.duration_s == 10.0
    assert window.router_dns is None  # not a fault on the router's lookup


def test_never_failed_over_and_never_back(tmp_path: Path) -> None:
    # eu-west-1 answered the window's last miss: the path never left it.
    rows = [_miss(11.0, US), _miss(12.0, EU), _miss(19.0, EU), _miss(25.0, US)]
    (window,) = _bucket_run(tmp_path, rows).fault_windows or ()
    assert window.served is not None
    assert window.served.failover_s is None
    assert window.served.failback_s is None


def test_no_miss_reached_the_region_and_no_miss_at_all(tmp_path: Path) -> None:
    rows = [_miss(10.0, US), _miss(19.999, US), _miss(20.0, EU)]
    (window,) = _bucket_run(tmp_path, rows).fault_windows or ()
    assert window.served is not None
    assert window.served.failover_s == 0.0
    assert window.served.failback_s == 0.0  # the first miss at the end itself
    hits_only = [_miss(2.0, US), Row(T0 + 12.0, 2.0, x_cache=HIT)]
    (window,) = _bucket_run(tmp_path / "hits", hits_only).fault_windows or ()
    assert window.served is not None
    assert window.served.misses == 0
    assert window.served.failover_s is None


def test_a_miss_in_flight_at_the_rollback_is_not_the_faults(tmp_path: Path) -> None:
    # Begun 5 ms before the fault's end, answered 12 ms later by the mended region:
    # the default drill's gate failed on such a miss (1 of 217 in its window).
    rows = [_miss(11.0, EU), _miss(12.0, US), _miss(19.995, EU), _miss(25.0, EU)]
    (window,) = _bucket_run(tmp_path, rows).fault_windows or ()
    assert window.served is not None
    assert window.served.failover_s == _as_read(T0 + 11.0) - (T0 + 10.0)
    assert (window.served.misses, window.served.misses_to_region) == (2, 1)
    (verdict,) = evaluate(
        parse_gate({"failover_s": {"max": 30}}, "test"), _bucket_run(tmp_path / "gate", rows)
    ).verdicts
    assert verdict.outcome is Outcome.PASS


def test_an_open_fault_lasts_to_the_end_of_the_data(tmp_path: Path) -> None:
    rows = [_miss(11.0, EU), _miss(14.5, US), _miss(28.0, US)]
    (window,) = _bucket_run(tmp_path, rows, end=None).fault_windows or ()
    assert window.duration_s is None
    assert window.served is not None
    assert window.served.failover_s == _as_read(T0 + 11.0) - (T0 + 10.0)
    assert window.served.failback_s is None


def test_a_run_without_origin_region_has_no_served_measure(tmp_path: Path) -> None:
    rows = [Row(T0 + 11.0, 12.0, x_cache=MISS), Row(T0 + 12.0, 12.0, x_cache=MISS, status=503)]
    (window,) = _bucket_run(tmp_path, rows).fault_windows or ()
    assert window.served is None
    assert (window.requests, window.errors) == (2, 1)


def test_router_dns_fault_share_of_stale_and_fallback(tmp_path: Path) -> None:
    run_dir = minimal_run(
        tmp_path / "run", [Row(T0 + k + 0.5, 10.0, x_cache=MISS) for k in range(20)], seconds=20
    )
    write_fault_documents(
        run_dir / "faults.jsonl",
        [fault_document("dns:servfail", "dns", T0 + 5.0, T0 + 10.0, kind="servfail")],
    )
    states = {
        4.9: "hit",  # before the window
        5.0: "stale",
        6.0: "stale",
        7.0: "fallback",
        8.0: "hit",
        9.999: "miss",
        10.0: "stale",  # the window is [start, end)
    }
    lines: list[str] = []
    for index, (at, state) in enumerate(states.items()):
        lines += invocation_lines(
            Invocation(end=T0 + at, duration_ms=1.0, cache_state=state), index
        )
    write_lambda_log(run_dir, lines)
    analysis = analyse(load_run(run_dir, strict=True))
    (window,) = analysis.fault_windows or ()
    dns = window.router_dns
    assert dns is not None
    assert (dns.invocations, dns.stale, dns.fallback) == (5, 2, 1)
    assert dns.absorbed_share == 3 / 5
    assert window.served is None
    faults = summary(analysis)["faults"]
    assert isinstance(faults, list)
    assert isinstance(faults[0], dict)
    assert faults[0]["router_dns"] == {
        "invocations": 5,
        "stale": 2,
        "fallback": 1,
        "stale_or_fallback_share": 0.6,
    }


def test_every_contract_key_is_read_and_bad_ones_name_file_and_line(tmp_path: Path) -> None:
    run_dir = minimal_run(tmp_path / "run", [Row(T0, 1.0)])
    good = fault_document(
        "bucket:503", "s3:eu-west-1", T0 + 1, T0 + 2, region=EU, kind="slowdown", fault_id="f-1"
    )
    good["probability"] = 0.25
    lines = [
        json.dumps(good),
        json.dumps({**good, "probability": 1.5}),
        json.dumps({**good, "region": 5}),
        json.dumps({**good, "kind": ["slowdown"]}),
        json.dumps({**good, "id": 7}),
        json.dumps({**good, "probability": True}),
        json.dumps({**good, "target": {"s3": EU}}),
    ]
    path = run_dir / "faults.jsonl"
    path.write_text("\n".join(lines) + "\n")
    data = load_run(run_dir)
    assert data.faults is not None
    (fault,) = data.faults
    assert (fault.region, fault.kind, fault.probability, fault.id) == (EU, "slowdown", 0.25, "f-1")
    assert fault.label == BUCKET
    assert fault.faulted_region == EU
    messages = data.folder_malformed.messages()
    assert [m.split(": ", 1)[0] for m in messages] == [f"{path}:{n}" for n in range(2, 8)]
    assert "field 'probability'" in messages[0]
    assert "field 'region'" in messages[1]
    assert "field 'kind'" in messages[2]
    assert "field 'id'" in messages[3]
    assert "field 'target'" in messages[5]
    with pytest.raises(FormatError) as caught:
        load_run(run_dir, strict=True)
    assert caught.value.location == f"{path}:2"


# --- a generated drill with a router DNS fault and two bucket faults ------------

CHAOS = Drill(
    seconds=45,
    faults=(
        FaultSpec("dns:servfail", "dns", 6.0, 12.0, error_rate=0.0, moves_traffic=False),
        FaultSpec(
            "bucket:503",
            "s3:eu-west-1",
            20.5,
            30.0,
            error_rate=0.1,
            impact_s=2.0,
            region=EU,
            kind="slowdown",
            failover_s=2.0,
            failback_s=1.5,
        ),
        FaultSpec(
            "bucket:500", "s3:us-east-1", 36.0, 40.0, impact_s=1.0, region=US, failback_s=None
        ),
    ),
)


@pytest.fixture(scope="module")
def chaos_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Analysis, Truth]:
    run_dir = tmp_path_factory.mktemp("chaos") / "20261126T173148Z-spike"
    truth = generate(run_dir, CHAOS)
    return analyse(load_run(run_dir, strict=True)), truth


def test_generated_drill_measures_match_the_generator(
    chaos_run: tuple[Analysis, Truth],
) -> None:
    analysis, truth = chaos_run
    windows = analysis.fault_windows or ()
    assert len(windows) == 3
    dns, bucket, stuck = windows
    assert dns.served is None
    assert dns.router_dns is not None
    assert dns.router_dns.stale > 0
    for window, expected in zip((bucket, stuck), truth.served[1:], strict=True):
        assert window.served is not None
        assert expected is not None
        assert (window.served.failover_s, window.served.failback_s) == expected
    assert truth.served[2] is not None
    assert truth.served[2][1] is None  # bucket:500 never failed back within the run
    assert bucket.served is not None
    assert 1.9 < (bucket.served.failover_s or 0.0) < 2.0


def test_summary_lists_each_fault_with_both_measures(chaos_run: tuple[Analysis, Truth]) -> None:
    analysis, truth = chaos_run
    document = summary(analysis)
    assert document["schema"] == 1
    measures = document["faults_measures"]
    assert isinstance(measures, dict)
    assert {"failover_s", "served_region.failover_s", "served_region.failback_s"} <= set(measures)
    faults = document["faults"]
    assert isinstance(faults, list)
    entry = faults[1]
    assert isinstance(entry, dict)
    assert entry["fault"] == "bucket:503"
    assert entry["target"] == "s3:eu-west-1"
    assert entry["region"] == EU
    assert entry["kind"] == "slowdown"
    assert entry["start_offset_s"] == 20.5
    assert entry["duration_s"] == 9.5
    expected = truth.served[1]
    assert expected is not None
    served = entry["served_region"]
    assert isinstance(served, dict)
    assert (served["failover_s"], served["failback_s"]) == expected
    assert entry["failback_s"] == expected[1]
    assert entry["error_rate_failover_s"] == entry["failover_s"]
    window = entry["window"]
    assert isinstance(window, dict)
    assert window["errors"] == (analysis.fault_windows or ())[1].errors > 0


def test_gate_takes_the_served_region_measure(chaos_run: tuple[Analysis, Truth]) -> None:
    analysis, truth = chaos_run
    gate = parse_gate({"failover_s": {"max": 1.5}}, "test")
    (verdict,) = evaluate(gate, analysis).verdicts
    # bucket:500 never failed back but did fail over; bucket:503 took about 2 s.
    assert verdict.outcome is Outcome.FAIL
    assert truth.served[1] is not None
    assert verdict.value == max(s[0] for s in truth.served if s is not None)
    assert "served region" in verdict.detail
    assert BUCKET in verdict.detail


def test_gate_uses_the_error_rate_without_origin_region(tmp_path: Path) -> None:
    rows = [Row(T0 + k / 10, 12.0, x_cache=MISS, status=503 if 100 <= k < 130 else 200)
            for k in range(300)]  # fmt: skip
    analysis = _bucket_run(tmp_path, rows)
    (verdict,) = evaluate(parse_gate({"failover_s": {"max": 30}}, "test"), analysis).verdicts
    assert verdict.outcome is Outcome.PASS
    assert verdict.value == 3.0
    assert "error rate" in verdict.detail
    assert "served region" not in verdict.detail


def test_gate_fails_when_misses_never_left_the_region(tmp_path: Path) -> None:
    rows = [_miss(11.0, US), _miss(12.0, EU), _miss(19.0, EU), _miss(25.0, US)]
    (verdict,) = evaluate(
        parse_gate({"failover_s": {"max": 30}}, "test"), _bucket_run(tmp_path, rows)
    ).verdicts
    assert verdict.outcome is Outcome.FAIL
    assert "misses still reached eu-west-1 when the fault ended" in verdict.detail


def _texts(figure: Figure) -> list[str]:
    return [text.get_text().strip() for axes in figure.axes for text in axes.texts]


def test_every_time_plot_labels_every_fault_window(chaos_run: tuple[Analysis, Truth]) -> None:
    analysis, _ = chaos_run
    labels = ["dns:servfail dns", BUCKET, "bucket:500 s3:us-east-1"]
    starts = [fault.start_s for fault in CHAOS.faults]
    drawn = set()
    for spec in PLOTS:
        figure, missing = render(spec, analysis)
        assert missing is None, spec.name
        texts = _texts(figure)
        if spec.name == "router_cdf":  # durations, no time axis
            assert texts == []
            continue
        drawn.add(spec.name)
        for axes in figure.axes:
            if not axes.texts:
                continue
            # Beside the faults, only the load's phases are named (test_verdict.py).
            faults = [t for t in axes.texts if str(t.get_gid()).startswith("fault-label-")]
            phases = {t.get_text() for t in axes.texts if t not in faults}
            assert phases == {"baseline", "spike", "cooldown"}, spec.name
            found = {t.get_text().strip(): t.get_position()[0] for t in faults}
            assert found == dict(zip(labels, starts, strict=True)), spec.name
    assert drawn == {p.name for p in PLOTS} - {"router_cdf"}


def test_origins_plot_shows_served_region_beside_router_choice(
    chaos_run: tuple[Analysis, Truth],
) -> None:
    analysis, _ = chaos_run
    spec = next(p for p in PLOTS if p.name == "origins")
    figure, missing = render(spec, analysis)
    assert missing is None
    titles = [axes.get_title() for axes in figure.axes if axes.get_title()]
    assert titles == [
        "Region that answered each miss (requests.csv origin_region)",
        "Region the router chose, per invocation (router log lines)",
    ]
    served, chosen = (axes for axes in figure.axes if axes.get_title())
    assert served.get_shared_x_axes().joined(served, chosen)
    legend = [text.get_text() for legend in figure.legends for text in legend.get_texts()]
    assert any(text.startswith(f"miss answered by {EU}") for text in legend)
    assert any(text.startswith(f"router chose {US}") for text in legend)
    # Both panels carry every fault's label.
    assert _texts(figure).count(BUCKET) == 2


def test_report_lists_each_fault_with_its_window(chaos_run: tuple[Analysis, Truth]) -> None:
    analysis, truth = chaos_run
    page = report_page(analysis, [])
    assert page.faults is not None
    table = page.faults.table
    rows = {row[0]: dict(zip(table.headers, row, strict=True)) for row in table.rows}
    bucket = rows["bucket:503"]
    expected = truth.served[1]
    assert expected is not None
    assert bucket["target"] == "s3:eu-west-1"
    assert bucket["start (s)"] == "20.5"
    assert bucket["duration (s)"] == "9.5"
    assert bucket["failover, served region"] == f"{expected[0]:.3f} s"
    assert bucket["failback, served region"] == f"{expected[1]:.3f} s"
    errors = (analysis.fault_windows or ())[1]
    assert bucket["errors in the window"] == f"{errors.errors:,} of {errors.requests:,}"
    assert rows["bucket:500"]["failback, served region"] == "never"
    assert rows["dns:servfail"]["failover, served region"] == "-"
    assert rows["dns:servfail"]["router DNS stale/fallback"].endswith("%")
    html = render_html(analysis, [])
    assert "<td>bucket:503</td><td>s3:eu-west-1</td>" in html
