"""Fixtures of the results tests: synthetic run folders with known answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.results.synthetic import Drill, FaultSpec, Truth, generate

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def drill_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    """A small generated spike with one S3 fault, every file present."""
    run_dir = tmp_path_factory.mktemp("drill") / "20261126T173148Z-spike"
    truth = generate(
        run_dir,
        Drill(faults=(FaultSpec("s3:unavailable", "us-east-1", start_s=20.5, end_s=30.0),)),
    )
    return run_dir, truth
