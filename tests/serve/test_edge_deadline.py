"""The edge's per-connection timeouts without a timer per request (``dylive.serve.edgeio``):
a :class:`Deadline` set and cleared on every request arms one loop timer, which fires at the
deadline standing when it is due (moved on when the deadline moved), and not at all once
cleared or cancelled; the keep-alive timeout (a Deadline on the httptools stack) still closes
an idle connection, and a connection that keeps sending is kept."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from support.edgekit import envelope, offline, read_all, served

from dylive.serve.edgeio import Deadline


class Clock:
    """A loop stand-in: ``time()`` is set by the test; ``call_at`` records the timers."""

    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[tuple[float, Any]] = []
        self.cancelled = 0

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any) -> Any:
        clock = self

        class Handle:
            def cancel(self) -> None:
                clock.cancelled += 1
                clock.timers.remove(entry)

        entry = (when, callback)
        self.timers.append(entry)
        return Handle()

    def run_due(self) -> None:
        for entry in sorted(self.timers, key=lambda t: t[0]):
            if entry[0] <= self.now:
                self.timers.remove(entry)
                entry[1]()


def test_one_timer_for_many_sets_and_the_standing_deadline_fires() -> None:
    clock, fired = Clock(), []
    deadline = Deadline(clock, lambda: fired.append(clock.now))  # type: ignore[arg-type]
    for step in range(50):  # a request every 0.1 s: set, then cleared when it comes
        clock.now = 100.0 + step * 0.1
        deadline.set(5.0)
        deadline.clear()
    deadline.set(5.0)  # the last response: due at 109.9
    assert len(clock.timers) == 1 and clock.cancelled == 0
    clock.now = 105.0  # the first timer's time: the deadline moved on, armed again
    clock.run_due()
    assert fired == [] and [when for when, _ in clock.timers] == [deadline.when]
    clock.now = deadline.when or 0.0
    clock.run_due()
    assert fired == [clock.now] and deadline.when is None and clock.timers == []


def test_a_cleared_deadline_does_not_fire_and_cancel_stops_the_timer() -> None:
    clock, fired = Clock(), []
    deadline = Deadline(clock, lambda: fired.append(clock.now))  # type: ignore[arg-type]
    deadline.set(5.0)
    deadline.clear()
    clock.now += 10
    clock.run_due()
    assert fired == [] and clock.timers == []
    deadline.set(5.0)  # set again after its timer went: a new timer
    assert len(clock.timers) == 1
    deadline.cancel()
    assert clock.timers == [] and deadline.when is None
    deadline.set(1.0)
    deadline.set(0.5)  # an earlier deadline than the armed timer's: armed again, earlier
    assert [when for when, _ in clock.timers] == [clock.now + 0.5]


async def test_keep_alive_closes_an_idle_connection_and_keeps_a_busy_one(
    tmp_path: Path,
) -> None:
    request = b"GET /douyin/liveroom/chat?room_id=1 HTTP/1.1\r\nHost: x\r\n\r\n"
    async with served(offline(tmp_path), "httptools", timeout_keep_alive=1) as (port, _app):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in range(8):  # a request every 0.3 s for 2.4 s: kept open
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                _, body = envelope(head + await reader.readexactly(length))
                assert body["code"] == 40001
                await asyncio.sleep(0.3)
            # then idle: the server closes it after the keep-alive timeout (EOF, no answer)
            assert await asyncio.wait_for(read_all(reader), 30) == b""
        finally:
            writer.close()
