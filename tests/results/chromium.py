"""Headless Chromium driven over the DevTools protocol on a pipe (no port, no network).

``--remote-debugging-pipe`` makes Chromium read protocol commands from file
descriptor 3 and write replies to descriptor 4, each message a JSON text
ended by a NUL byte. The page is opened in a fresh profile; every console
error, uncaught exception, failed load and network request is collected, so a
test can say the report opened "without errors" and made no request.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)


def chromium_path() -> str | None:
    """The Chromium binary, if installed."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    return shutil.which("chromium")


def _above_four(fd: int) -> int:
    if fd > 4:
        return fd
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


@dataclass
class PageLoad:
    """What happened while a page loaded."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    screenshot: bytes = b""
    checks: dict[str, object] = field(default_factory=dict)


class Chromium:
    """One headless Chromium process, stopped by its PID on exit."""

    def __init__(self, *, timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s
        self._profile = tempfile.mkdtemp(prefix="edgedrill-chromium-")
        self._process: subprocess.Popen[bytes] | None = None
        self._to_browser = -1
        self._from_browser = -1
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, object]] = []

    def __enter__(self) -> Chromium:
        binary = chromium_path()
        if binary is None:
            raise RuntimeError("chromium is not installed")
        command_read, command_write = os.pipe()
        reply_read, reply_write = os.pipe()
        # Above 4, so that wiring one of them to 3 or 4 cannot clobber the other.
        command_read = _above_four(command_read)
        reply_write = _above_four(reply_write)

        # bash (dash takes single-digit descriptors only) moves the pipe ends to
        # descriptors 3 and 4 as it execs Chromium.
        wiring = f'exec "$0" "$@" 3<&{command_read} 4>&{reply_write}'
        self._process = subprocess.Popen(
            [
                "/bin/bash",
                "-c",
                wiring,
                binary,
                *FLAGS,
                f"--user-data-dir={self._profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(command_read, reply_write),
            start_new_session=True,
        )
        os.close(command_read)
        os.close(reply_write)
        self._to_browser = command_write
        self._from_browser = reply_read
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop Chromium (its whole process group) and remove the profile."""
        for fd in (self._to_browser, self._from_browser):
            if fd >= 0:
                os.close(fd)
        self._to_browser = self._from_browser = -1
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait(timeout=10)
        self._process = None
        shutil.rmtree(self._profile, ignore_errors=True)

    def _send(
        self, method: str, params: dict[str, object] | None = None, session: str | None = None
    ) -> int:
        self._next_id += 1
        message: dict[str, object] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _read(self, deadline: float) -> dict[str, object]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from chromium")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the protocol pipe")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, object] = json.loads(raw)
        return message

    def call(
        self, method: str, params: dict[str, object] | None = None, session: str | None = None
    ) -> dict[str, object]:
        """Send one command and return its result (events met meanwhile are kept)."""
        wanted = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout_s
        while True:
            message = self._read(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result = message.get("result", {})
                assert isinstance(result, dict)
                return result
            self._events.append(message)

    def wait_event(self, method: str, session: str, deadline: float) -> dict[str, object]:
        """Wait for one event of the session."""
        for index, event in enumerate(self._events):
            if event.get("method") == method and event.get("sessionId") == session:
                return self._events.pop(index)
        while True:
            message = self._read(deadline)
            if message.get("method") == method and message.get("sessionId") == session:
                return message
            self._events.append(message)

    def open(self, url: str, check: str) -> PageLoad:
        """Load ``url``, evaluate ``check`` (a JS expression returning JSON), screenshot it."""
        target = self.call("Target.createTarget", {"url": "about:blank"})
        attached = self.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        session = str(attached["sessionId"])
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        self._events.clear()
        self.call("Page.navigate", {"url": url}, session=session)
        deadline = time.monotonic() + self.timeout_s
        self.wait_event("Page.loadEventFired", session, deadline)
        evaluated = self.call(
            "Runtime.evaluate",
            {"expression": f"JSON.stringify({check})", "returnByValue": True},
            session=session,
        )
        shot = self.call(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True},
            session=session,
        )
        load = PageLoad(screenshot=base64.b64decode(str(shot["data"])))
        value = evaluated.get("result", {})
        if isinstance(value, dict) and isinstance(value.get("value"), str):
            load.checks = json.loads(value["value"])
        self._collect(load, session)
        return load

    def _collect(self, load: PageLoad, session: str) -> None:
        for event in self._events:
            params = event.get("params")
            if event.get("sessionId") == session and isinstance(params, dict):
                _record(load, str(event.get("method")), params)


def _record(load: PageLoad, method: str, params: dict[str, object]) -> None:
    """File one protocol event under the page's errors or requests."""
    if method == "Runtime.exceptionThrown":
        load.errors.append(f"exception: {params.get('exceptionDetails')}")
    elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
        load.errors.append(f"console.error: {params.get('args')}")
    elif method == "Log.entryAdded":
        entry = params.get("entry", {})
        if isinstance(entry, dict) and entry.get("level") == "error":
            load.errors.append(f"log: {entry.get('text')} {entry.get('url', '')}")
    elif method == "Network.loadingFailed":
        load.errors.append(f"load failed: {params.get('errorText')}")
    elif method == "Network.requestWillBeSent":
        request = params.get("request", {})
        if isinstance(request, dict):
            load.requests.append(str(request.get("url", ""))[:200])
