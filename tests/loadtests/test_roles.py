from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_json_script

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).with_name("roles_check.py")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    work = tmp_path_factory.mktemp("roles")
    return run_json_script(SCRIPT, work)


def test_each_environment_gets_a_controller_in_the_role_of_its_runner(results):
    assert results["roles"] == [
        "LocalController",
        "LocalController",
        "MasterController",
        "WorkerController",
    ]
    assert results["distinct"] == 4


def test_a_shape_drives_the_pool_of_its_own_environment(results):
    assert results["pools"] == [[7, ["SpikeUser"]], [11, ["SpikeUser"]]]


def test_a_run_starts_only_in_the_environment_it_starts_for(results):
    # The users of the first environment see a dispatcher, those of the second none.
    assert results["started"] == [True, False]
    assert len(results["run_folders"]) == 1
    assert results["run_folders"][0].endswith("-spike")
