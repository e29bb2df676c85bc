"""The loop-side ingest path alone: collectors' deliveries → Ingest → SQLite → commit fan-out.

``--rooms`` rooms, each a fake source that delivers a push frame of 3 already rendered messages
(``Rendered``: what the direct collector yields; 2 chats and a like, so analytics reads them)
with a checkpoint every 0.25 s, run through :class:`~dylive.collect.Ingest` (the shared budget,
the pending queue, the writer task) into one :class:`~dylive.store.SQLiteStore`, its commits fanned
out as the service does (live hub, analytics folds and checkpoints). No collector, no HTTP.
Prints per round the messages stored per second and the CPU per stored message of the event loop
thread (what this path costs in Python), of the SQLite writer thread and of the process.

Compare trees side by side: run it alternately with ``PYTHONPATH=/path/to/other/src``.

Usage: ``python bench/ingest.py [--rooms 200 --seconds 15 --repeat 1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
from writer import thread_ticks  # bench/writer.py: per-thread CPU from /proc

import dylive
from dylive.analytics import Analytics
from dylive.app.commits import Commit, Commits, IngestEvents
from dylive.app.hub import StreamHub
from dylive.collect import Budget, Ingest, RoomState, Tuning
from dylive.decode.direct import Rendered
from dylive.source.room import RoomInfo
from dylive.source.transport import Checkpoint
from dylive.store import SQLiteStore

ROOM0, MSG0 = 7_000_000_000_000_000_000, 7_100_000_000_000_000_000


def _chat(room: int, msg_id: int) -> bytes:
    user = {"uid": 61152922824 + msg_id % 1000, "nickname": "若他", "pay_grade_level": 12}
    payload = {
        "room_id": room,
        "content": "想要长款连衣裙,23号大衣还有吗可以回复一下吗",
        "user": user,
    }
    return orjson.dumps({"method": "WebcastChatMessage", "msg_id": msg_id, "payload": payload})


def _like(room: int, msg_id: int) -> bytes:
    payload = {"room_id": room, "like": {"count": 3, "total": 1000}, "user": {"uid": 7}}
    return orjson.dumps({"method": "WebcastLikeMessage", "msg_id": msg_id, "payload": payload})


class FakeSource:
    """A push frame of 3 rendered messages every ``every`` s, with the checkpoint after it."""

    def __init__(self, room: int, stop: float, every: float, offset: float) -> None:
        self.room, self.stop, self.every, self.offset = room, stop, every, offset
        self.checkpoint: Checkpoint | None = None
        self.msg = MSG0 + (room - ROOM0) * 10**6

    async def __aiter__(self) -> AsyncIterator[Rendered]:
        await asyncio.sleep(self.offset)
        now = int(time.time() * 1000)
        while time.monotonic() < self.stop:
            for i in range(3):
                self.msg += 1
                method, body = (
                    ("WebcastLikeMessage", _like(self.room, self.msg))
                    if i == 2
                    else ("WebcastChatMessage", _chat(self.room, self.msg))
                )
                ext = f"internal_src:dim|first_req_ms:1|seq:{self.msg}"
                self.checkpoint = Checkpoint(f"c{self.msg}", ext, "", "push", self.msg)
                yield Rendered(method, self.msg, self.room, now, b"\x08\x01" * 100, body)
            await asyncio.sleep(self.every)


async def one_round(
    rooms: int, seconds: float, fold_every: float | None
) -> tuple[float, float, float, float]:
    """(messages/s, loop thread µs/msg, other threads µs/msg, process µs/msg)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "i.sqlite3")
        async with store:
            commits = Commits(store)
            hub = StreamHub(store)
            analytics = (
                Analytics(store) if fold_every is None else Analytics(store, fold_every=fold_every)
            )

            def committed(commit: Commit) -> None:
                hub.notify(commit.room_id, commit.inserted)
                if commit.local and commit.inserted:
                    analytics.notify(commit.room_id)

            commits.subscribe(committed)
            hooks = IngestEvents(commits)
            tuning = Tuning(budget=Budget(20_000))
            stop = time.monotonic() + seconds + 4

            @contextlib.asynccontextmanager
            async def factory(info, resume, ledger):  # type: ignore[no-untyped-def]
                yield FakeSource(info.room_id, stop, 0.25, 0.25 * (info.room_id % rooms) / rooms)

            states = [RoomState(RoomInfo(str(r), ROOM0 + r, 2), pinned=True) for r in range(rooms)]
            tasks = [
                asyncio.create_task(Ingest(s, store, factory, tuning=tuning, hooks=hooks).run())
                for s in states
            ]
            await asyncio.sleep(3)
            ticks0, loop0, cpu0 = thread_ticks(), time.thread_time(), time.process_time()
            stored0 = sum(s.stored for s in states)
            await asyncio.sleep(seconds)
            ticks, loop = thread_ticks(), time.thread_time() - loop0
            cpu = time.process_time() - cpu0
            stored = sum(s.stored for s in states) - stored0
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await analytics.close()
    hz = os.sysconf("SC_CLK_TCK")
    others = sum(ticks[t] - ticks0.get(t, 0) for t in ticks if t != os.getpid()) / hz
    per = 1e6 / max(stored, 1)
    return stored / seconds, loop * per, others * per, cpu * per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--fold-every", type=float, help="Analytics(fold_every=…) (its default)")
    args = parser.parse_args()
    where = Path(dylive.__file__).resolve().parent.parent
    print(f"dylive from {where}; load {os.getloadavg()[0]:.2f}", flush=True)
    for _ in range(args.repeat):
        rate, loop, others, cpu = asyncio.run(one_round(args.rooms, args.seconds, args.fold_every))
        print(
            f"  {rate:,.0f} msg/s; µs per stored message: loop thread {loop:.1f},"
            f" other threads {others:.1f}, process {cpu:.1f}"
            f" (load {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
