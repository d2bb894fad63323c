"""LineFile: lines from the bound loop go out once per loop pass, others at once."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from edge.linefile import LineFile


def test_unbound_writes_reach_the_file_at_once(tmp_path: Path) -> None:
    log = LineFile(tmp_path / "a" / "log.txt", header="#head\n")
    log.write("one\n")
    assert (tmp_path / "a" / "log.txt").read_text() == "#head\none\n"
    log.close()
    LineFile(tmp_path / "a" / "log.txt", header="#head\n").close()  # header written once
    assert (tmp_path / "a" / "log.txt").read_text() == "#head\none\n"


def test_loop_writes_are_formatted_and_flushed_on_the_next_pass(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    rendered: list[str] = []

    def render(text: str) -> str:
        rendered.append(text)
        return text

    async def run() -> tuple[str, list[str], str, str]:
        log = LineFile(path)
        log.bind_loop()
        log.write_later(lambda: render("first\n"))
        log.write("second\n")
        log.write_later(lambda: render("third\n"))
        before = path.read_text()
        seen_before = list(rendered)
        # Another thread's line does not wait for the loop.
        other = threading.Thread(target=log.write, args=("elsewhere\n",))
        other.start()
        other.join()
        from_thread = path.read_text()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        after = path.read_text()
        log.write_later(lambda: render("last\n"))
        log.close()  # what is gathered is written on close
        log.write("dropped\n")
        return before + "|" + from_thread, seen_before, after, path.read_text()

    before, seen_before, after, final = asyncio.run(run())
    assert before == "|elsewhere\n"
    assert seen_before == []  # nothing formatted on the request's path
    assert after == "elsewhere\nfirst\nsecond\nthird\n"
    assert final == after + "last\n"
