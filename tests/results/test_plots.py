"""The plots draw what the analysis holds: a bar per second as one outline, stacked exactly."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from matplotlib.patches import StepPatch

from results.analysis import analyse, load_run
from results.billing import billed_ms
from results.plots import PLOTS, _save, render

if TYPE_CHECKING:
    from pathlib import Path

    from matplotlib.figure import Figure

    from tests.results.synthetic import Truth


def _outlines(figure: Figure) -> dict[str, StepPatch]:
    return {
        str(patch.get_label()): patch
        for axes in figure.axes
        for patch in axes.patches
        if isinstance(patch, StepPatch)
    }


def test_error_classes_stack_per_second_as_counted(drill_run: tuple[Path, Truth]) -> None:
    analysis = analyse(load_run(drill_run[0]))
    figure, _ = render(next(spec for spec in PLOTS if spec.name == "errors"), analysis)
    outlines = _outlines(figure)
    below = np.zeros(analysis.timeline.seconds)
    for name, series in analysis.requests.error_classes_per_second.items():
        (outline,) = [patch for label, patch in outlines.items() if label.startswith(f"{name} (")]
        top, edges, baseline = outline.get_data()
        assert edges.tolist() == list(range(analysis.timeline.seconds + 1))
        assert np.array_equal(baseline, below)
        assert np.array_equal(top - baseline, series)
        below = below + series
    assert analysis.requests.failures > 0
    assert np.array_equal(below, analysis.requests.failures_per_second)


def test_cold_starts_and_late_starts_are_one_bar_per_second(
    drill_run: tuple[Path, Truth],
) -> None:
    analysis = analyse(load_run(drill_run[0]))
    cold, _ = render(next(spec for spec in PLOTS if spec.name == "cold_starts"), analysis)
    (outline,) = [p for label, p in _outlines(cold).items() if label.startswith("cold starts")]
    assert analysis.environments is not None
    assert np.array_equal(outline.get_data()[0], analysis.environments.cold_per_second)
    rate, _ = render(next(spec for spec in PLOTS if spec.name == "rate"), analysis)
    late = _outlines(rate)["late starts per second"]
    assert analysis.rate is not None
    assert np.array_equal(late.get_data()[0], analysis.rate.late_per_second)


@pytest.mark.slow
def test_a_plot_laid_out_once_is_the_plot_savefig_lays_out(
    drill_run: tuple[Path, Truth], tmp_path: Path
) -> None:
    analysis = analyse(load_run(drill_run[0]))
    spec = next(spec for spec in PLOTS if spec.name == "latency")
    once, _ = render(spec, analysis)
    draws: list[object] = []
    once.canvas.mpl_connect("draw_event", draws.append)
    _save(once, tmp_path / "once.png")
    assert len(draws) == 1  # not a second, unseen draw inside savefig
    twice, _ = render(spec, analysis)
    twice.savefig(tmp_path / "savefig.png", format="png")
    assert (tmp_path / "once.png").read_bytes() == (tmp_path / "savefig.png").read_bytes()


def test_billed_cdfs_are_the_billed_durations_sorted(drill_run: tuple[Path, Truth]) -> None:
    analysis = analyse(load_run(drill_run[0]))
    assert analysis.router is not None
    durations = analysis.router.durations
    figure, _ = render(next(spec for spec in PLOTS if spec.name == "router_cdf"), analysis)
    lines = {str(line.get_label()): line for line in figure.axes[0].get_lines()}
    n = len(durations)
    for step in (1, 50):
        line = lines[f"billed at {step} ms steps"]
        ranks = np.unique(np.linspace(0, n - 1, min(n, 2000)).astype(np.int64))
        expected = np.sort(billed_ms(durations, step))[ranks]
        assert np.array_equal(np.asarray(line.get_xdata()), expected)
        assert np.array_equal(np.asarray(line.get_ydata()), (ranks + 1) / n)


def test_the_legend_lists_bars_where_bar_containers_stood(drill_run: tuple[Path, Truth]) -> None:
    analysis = analyse(load_run(drill_run[0]))
    figure, _ = render(next(spec for spec in PLOTS if spec.name == "errors"), analysis)
    (legend,) = figure.legends
    labels = [text.get_text() for text in legend.get_texts()]
    classes = [label.split(" (")[0] for label in labels if not label.startswith(("fault", "gate"))]
    assert labels[0].startswith("fault window")
    assert classes[:4] == list(analysis.requests.error_classes_per_second)
    assert labels[-1] == "error rate (%)"
