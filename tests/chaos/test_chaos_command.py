"""``edgedrill chaos`` on a real local distribution: faults seen by real clients, rolled back."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from chaos.control import ControlClient
from chaos.errors import ControlError
from chaos.faults import parse_fault
from chaos.injection import inject, injected
from edge.stack import RunningStack
from tests.chaos.conftest import get_object
from tests.conftest import REPO, run_edgedrill

pytestmark = pytest.mark.slow

class Inject:
    """``edgedrill chaos inject ...`` running in a subprocess, its output read as it comes."""

    def __init__(self, stack: RunningStack, *args: str) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edgedrill.cli",
                "chaos",
                "inject",
                *args,
                "--state",
                str(stack.state_path),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._errors: list[str] = []
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.lines.put)),
            threading.Thread(target=self._read, args=(self.process.stderr, self._errors.append)),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str], sink: Callable[[str], None]) -> None:
        for line in stream:
            sink(line)

    def wait_for(self, prefix: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                self.stop()
                raise AssertionError(
                    f"no {prefix!r} line; got {self.seen}, stderr {self.stderr()}"
                ) from None
            self.seen.append(line)
            if line.strip().startswith(prefix):
                return line

    def ids(self) -> list[str]:
        line = self.wait_for("ids ")
        return line.strip().removeprefix("ids ").split(";")[0].split(", ")

    def finish(self, timeout: float = 30.0) -> int:
        try:
            code = self.process.wait(timeout)
        finally:
            self.stop()
        return code

    def stderr(self) -> str:
        return "".join(self._errors)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        for reader in self._readers:
            reader.join(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def started(stack: RunningStack) -> Iterator[list[Inject]]:
    runs: list[Inject] = []
    try:
        yield runs
    finally:
        for run in runs:
            run.stop()


def chaos(stack: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    return run_edgedrill("chaos", *args, "--state", str(stack.state_path))


def txt_query(stack: RunningStack) -> dns.message.Message:
    host, port = stack.state.dns.rsplit(":", 1)
    query = dns.message.make_query(stack.state.routing_name, dns.rdatatype.TXT)
    return dns.query.udp(query, host, port=int(port), timeout=3)


def listed_ids(control: ControlClient) -> set[str]:
    return {str(f["id"]) for f in control.list()}


def primary(stack: RunningStack) -> str:
    return next(iter(stack.state.regions))


def test_bucket_503_seen_by_an_http_client_during_and_gone_after(
    stack: RunningStack, control: ControlClient, started: list[Inject]
) -> None:
    region = primary(stack)
    assert get_object(stack.state, region)[0] == 200
    run = Inject(stack, "bucket:503", "--duration", "2")
    started.append(run)
    line = run.wait_for("injected ")
    assert f"injected bucket:503 into s3:{region}" in line
    status, body = get_object(stack.state, region)
    assert status == 503
    assert b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate." in body
    assert b"<RequestId>" in body
    assert run.finish() == 0, run.stderr()
    assert run.wait_for("rolled back ").startswith("rolled back bucket:503 at ")
    assert get_object(stack.state, region)[0] == 200
    assert not control.list()


def test_dns_servfail_seen_by_a_dns_client_during_and_gone_after(
    stack: RunningStack, control: ControlClient, started: list[Inject]
) -> None:
    assert txt_query(stack).rcode() == dns.rcode.NOERROR
    run = Inject(stack, "dns:servfail", "--duration", "2")
    started.append(run)
    assert stack.state.routing_name in run.wait_for("injected ")
    assert txt_query(stack).rcode() == dns.rcode.SERVFAIL
    assert run.finish() == 0, run.stderr()
    answer = txt_query(stack)
    assert answer.rcode() == dns.rcode.NOERROR
    assert answer.answer, "the routing name answers its TXT record again"


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_a_signal_rolls_the_fault_back_at_once(
    stack: RunningStack,
    control: ControlClient,
    started: list[Inject],
    signum: signal.Signals,
    code: int,
) -> None:
    # The lease is long: a fault gone by the time the process exits was rolled back, not expired.
    run = Inject(stack, "bucket:500", "--lease", "60")
    started.append(run)
    ids = run.ids()
    assert set(ids) <= listed_ids(control)
    assert get_object(stack.state, primary(stack))[0] == 500
    run.process.send_signal(signum)
    assert run.finish(timeout=10) == code, run.stderr()
    assert not set(ids) & listed_ids(control)
    assert get_object(stack.state, primary(stack))[0] == 200
    run.wait_for("rolled back bucket:500 ")


def test_after_kill_9_the_lease_ends_the_fault(
    stack: RunningStack, control: ControlClient, started: list[Inject]
) -> None:
    run = Inject(stack, "bucket:404", "--lease", "2")
    started.append(run)
    ids = set(run.ids())
    run.process.kill()
    run.finish()
    assert ids <= listed_ids(control), "nobody rolled it back: it is still there"
    deadline = time.monotonic() + 6.0
    while ids & listed_ids(control) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not ids & listed_ids(control)
    assert get_object(stack.state, primary(stack))[0] == 200


def test_list_shows_the_remaining_lease_and_clear_removes_every_fault(
    stack: RunningStack, control: ControlClient, started: list[Inject]
) -> None:
    held = Inject(stack, "bucket:503", "--region", "eu-west-1", "--lease", "3")
    started.append(held)
    (held_id,) = held.ids()
    other = control.inject({"target": "dns", "kind": "nxdomain", "name": "x.example", "id": "t-1"})
    assert other["id"] == "t-1"
    listing = chaos(stack, "list")
    assert listing.returncode == 0, listing.stderr
    header, *rows = listing.stdout.splitlines()
    assert header.split() == ["ID", "TARGET", "KIND", "PROBABILITY", "LEASE", "LEFT", "DETAIL"]
    by_id = {row.split()[0]: row.split() for row in rows}
    assert set(by_id) == {held_id, "t-1"}
    assert by_id[held_id][1:4] == ["s3:eu-west-1", "slowdown", "1"]
    assert 0.0 < float(by_id[held_id][4]) <= 3.0
    assert by_id["t-1"][1:3] == ["dns", "nxdomain"]
    assert 0.0 < float(by_id["t-1"][4]) <= 30.0
    assert "name=x.example" in by_id["t-1"]

    cleared = chaos(stack, "clear")
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout.strip() == "removed 2 faults"
    assert control.list() == []
    assert chaos(stack, "list").stdout.strip() == "no active faults"
    # The inject holding its fault notices at its next renewal and says so.
    assert held.finish() == 1
    assert "ended before its time" in held.stderr()


def test_a_bad_spelling_exits_2_with_the_valid_list(stack: RunningStack) -> None:
    result = chaos(stack, "inject", "bucket:502")
    assert result.returncode == 2
    assert "unknown fault 'bucket:502'" in result.stderr
    assert "valid: dns:servfail, dns:nxdomain" in result.stderr
    assert "lambda:timeout" in result.stderr


def test_a_missing_state_file_exits_2_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "state.json"
    for args in (["inject", "bucket:503"], ["list"], ["clear"]):
        result = run_edgedrill("chaos", *args, "--state", str(missing))
        assert result.returncode == 2
        assert str(missing) in result.stderr
    garbage = tmp_path / "state.json"
    garbage.write_text("{not json", encoding="utf-8")
    result = run_edgedrill("chaos", "list", "--state", str(garbage))
    assert result.returncode == 2
    assert str(garbage) in result.stderr


def test_injected_rolls_back_on_exception_against_the_real_api(
    stack: RunningStack, control: ControlClient
) -> None:
    fault = parse_fault("bucket:403")
    held: list[str] = []

    def fail_inside() -> None:
        with injected(fault, control, stack.state, lease_s=60) as injection:
            held.extend(injection.ids)
            assert get_object(stack.state, primary(stack))[0] == 403
            raise RuntimeError("drill step failed")

    with pytest.raises(RuntimeError, match="drill step failed"):
        fail_inside()
    assert held
    assert not set(held) & listed_ids(control)
    assert get_object(stack.state, primary(stack))[0] == 200


def test_rollback_is_idempotent_and_a_removed_fault_cannot_be_renewed(
    stack: RunningStack, control: ControlClient
) -> None:
    injection = inject(parse_fault("lambda:error"), control, stack.state, lease_s=60)
    assert injection.renew() is True
    assert control.remove(injection.ids[0]) is True  # someone else removed it first
    assert control.remove(injection.ids[0]) is False
    assert control.renew(injection.ids[0], 10) is None
    assert injection.renew() is False
    assert injection.rollback() is True  # already gone counts as removed
    assert injection.rollback() is True
    assert injection.end is not None
    assert injection.end >= injection.start


def test_the_control_api_refusal_names_url_and_status(
    stack: RunningStack, control: ControlClient
) -> None:
    with pytest.raises(ControlError) as caught:
        control.inject({"target": "s3:ap-south-1", "kind": "slowdown"})
    assert caught.value.status == 404
    assert stack.state.control_url in str(caught.value)
    assert "ap-south-1" in str(caught.value)
    unreachable = ControlClient("http://127.0.0.1:9", timeout=2)
    with pytest.raises(ControlError, match=r"http://127\.0\.0\.1:9 is unreachable"):
        unreachable.list()


def test_a_client_without_the_states_token_is_refused_with_401(stack: RunningStack) -> None:
    for token in (None, "not-the-token-of-this-state-file"):
        client = ControlClient(stack.state.control_url, token)
        with pytest.raises(ControlError) as caught:
            client.list()
        assert caught.value.status == 401
        assert stack.state.control_url in str(caught.value)
    assert isinstance(ControlClient.from_state(stack.state).list(), list)
