"""`dylive watch ROOM --follow` says what it does when stdout is not a terminal (a pipe, a log
file): one stderr line per change of state (waiting for the broadcast, live), text lines for the
messages; the rich view's status line reads "waiting for the next broadcast" while it waits and
fits 80 columns."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from typing import Any

from rich.console import Console
from support.waiting import until

from dylive.decode import ChatEvent, UserInfo
from dylive.sim import SimConfig, SimServer
from dylive.source.collector import Room
from dylive.source.watch_view import WatchState, plain_line

OFFLINE = "11052815917"  # the simulator's offline demo room


async def _lines(stream: asyncio.StreamReader, into: list[str]) -> None:
    while line := await stream.readline():
        into.append(line.decode(errors="replace").rstrip("\n"))


async def test_follow_into_a_pipe_says_it_waits_then_prints_lines() -> None:
    async with SimServer(SimConfig(seed=4, rate=40.0, tick=0.05)) as sim:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dylive", "--log-level", "warning", "watch", OFFLINE,
            "--upstream", sim.base_url, "--follow",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "DYLIVE_SIGNING": "off"},
        )  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        out: list[str] = []
        err: list[str] = []
        readers = [asyncio.create_task(_lines(proc.stdout, out)),
                   asyncio.create_task(_lines(proc.stderr, err))]  # fmt: skip
        try:
            waiting = f"dylive watch: {OFFLINE} is not live: waiting for its next broadcast"
            await until(lambda: any(line.startswith(waiting) for line in err), 30, "waiting")
            sim.start(OFFLINE)
            await until(lambda: f"dylive watch: {OFFLINE} is live" in err, 30, "live")
            await until(lambda: len(out) >= 3, 30, "message lines on stdout")
        finally:
            proc.terminate()
            await proc.wait()
            for reader in readers:
                await reader
    assert all(line[2] == ":" and line[8] == " " for line in out[:3]), out[:3]  # HH:MM:SS …
    assert not any("Traceback" in line for line in err), err


def header_lines(state: WatchState, room: Room, width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(state.header(room))
    return str(console.file.getvalue()).splitlines()  # type: ignore[attr-defined]


async def test_the_status_line_says_waiting_and_fits_80_columns() -> None:
    async with SimServer(SimConfig(seed=4)) as sim:
        room = Room(OFFLINE, upstream=sim.base_url, follow=True)
        async with room:
            task = asyncio.create_task(anext(aiter(room)))
            try:
                await until(lambda: room.status().state == "waiting", 30, "the room waiting")
                state = WatchState()
                state.viewers, state.likes, state.gift_total = 12_345_678, 98_765_432, 1_234_567
                lines = header_lines(state, room, 80)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    assert len(lines) == 2, lines  # never wrapped
    assert all(len(line) <= 80 for line in lines), lines
    assert "viewers 12,345,678" in lines[0]
    assert lines[1].startswith("waiting for the next broadcast"), lines


def test_plain_lines() -> None:
    chat: Any = ChatEvent(method="WebcastChatMessage", msg_id=1, room_id=1,
                          user=UserInfo(uid=1, nickname="张三"), content="你好")  # fmt: skip
    line = plain_line(chat)
    assert line is not None and line.endswith(" 张三: 你好")
