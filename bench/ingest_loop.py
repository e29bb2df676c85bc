"""The loop thread's share of ingestion, without SQLite and without a clock: µs of CPU per message.

    .venv/bin/python bench/ingest_loop.py [--rooms 200 --ticks 300 --per-frame 3 --rounds 5]

``--rooms`` rooms, each an :class:`~dylive.collect.Ingest` reading a fake source that yields one
push frame of ``--per-frame`` rendered messages (``Rendered``, what the direct collector yields)
with its checkpoint per tick; a tick ends when every room's pending messages are stored. The
store is a :class:`~dylive.store.SQLiteStore` (its append, the writer task's batching, the
commit's settling and tail cache, the commit fan-out of ``dylive.app.commits``) whose batches run
on the event loop thread and write nothing (``_run_batch`` answers every op as if it inserted its
rows, their own Python only): what is left is the Python of the loop thread (and the writer's
Python: ``Append.settle``, ``_new_rows``), deterministic (no other thread, no
sleeping) — ``valgrind --tool=callgrind`` counts it, and rounds repeat within a few per cent.
The garbage collector is tuned as ``dylive serve`` tunes it (``serve.runtime.tune_gc``: with
Python's thresholds a young collection ran every 700 allocations, whichever line allocated paid
for it). Compare trees side by side with ``PYTHONPATH=<tree>/src``, alternated.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson

import dylive
from dylive.app.commits import Commits, IngestEvents
from dylive.collect import Budget, Ingest, RoomState, Tuning
from dylive.decode.direct import Rendered
from dylive.serve import runtime
from dylive.source.room import RoomInfo
from dylive.source.transport import Checkpoint
from dylive.store import SQLiteStore

ROOM0, MSG0 = 7_000_000_000_000_000_000, 7_100_000_000_000_000_000


class InlineExecutor(concurrent.futures.Executor):
    """Runs each submitted call at once, on the calling thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


class _Cursor:
    def __init__(self, row: tuple[Any, ...] | None) -> None:
        self.row = row

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.row


class FakeConnection:
    """What an append's op does with its connection, answered without SQLite: every row is
    new (consecutive seqs), the position is taken."""

    def __init__(self) -> None:
        self.seq = 0
        self.total_changes = 0
        self.last: dict[int, int] = {}  # signed room_id -> newest seq of this batch

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        for row in rows:
            self.seq += 1
            self.last[row[0]] = self.seq
        self.total_changes += len(rows)

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> _Cursor:
        return _Cursor((self.seq,) if "last_insert_rowid" in sql else None)


class NoWriteStore(SQLiteStore):
    """A SQLiteStore whose batches run their ops against :class:`FakeConnection` (what the writer
    thread does in Python, without SQLite: on the loop thread here)."""

    fake = FakeConnection()

    def _run_batch(self, batch: list[Any]) -> tuple[list[Any], Any]:
        conn = self.fake
        self._known, self._unknown = {}, set()
        results = [op.fn(conn) for op in batch]
        rows = list(conn.last.items())
        conn.last.clear()
        commit = self._new_rows(conn, rows)  # type: ignore[arg-type]
        for _room, seq in rows:
            self._max_seq = max(self._max_seq, seq)
        return results, commit


class Ticks:
    """A tick counter that sources wait on."""

    def __init__(self) -> None:
        self.n = 0
        self.event = asyncio.Event()
        self.sources = 0

    def next(self) -> None:
        self.n += 1
        event, self.event = self.event, asyncio.Event()
        event.set()


class FrameSource:
    """One frame of ``per_frame`` rendered chat messages per tick."""

    def __init__(self, room: int, per_frame: int, ticks: Ticks) -> None:
        self.room, self.per_frame, self.ticks = room, per_frame, ticks
        self.checkpoint: Checkpoint | None = None
        self.msg = MSG0 + (room - ROOM0) * 10**6
        body = {"method": "WebcastChatMessage", "payload": {"content": "想要长款连衣裙" * 10}}
        self.body = orjson.dumps(body)
        self.seen = ticks.n
        ticks.sources += 1

    async def __aiter__(self) -> AsyncIterator[Rendered]:
        ticks = self.ticks
        while True:
            while ticks.n <= self.seen:
                await ticks.event.wait()
            self.seen += 1
            for _ in range(self.per_frame):
                self.msg += 1
                ext = f"internal_src:dim|first_req_ms:1|seq:{self.msg}"
                self.checkpoint = Checkpoint(f"c{self.msg}", ext, "", "push", self.msg)
                yield Rendered(
                    "WebcastChatMessage", self.msg, self.room, 1_765_000_000_000, b"\x08\x01" * 100,
                    self.body,
                )  # fmt: skip


async def one_round(rooms: int, n_ticks: int, per_frame: int) -> float:
    """µs of the loop thread's CPU per stored message."""
    with tempfile.TemporaryDirectory() as tmp:
        store = NoWriteStore(Path(tmp) / "i.sqlite3")
        async with store:
            store._wexec = InlineExecutor()  # type: ignore[assignment]
            store.commit_interval = 0.0
            commits = Commits(store)
            hooks = IngestEvents(commits)
            tuning = Tuning(budget=Budget(100_000))
            ticks = Ticks()

            @contextlib.asynccontextmanager
            async def factory(info, resume, ledger):  # type: ignore[no-untyped-def]
                yield FrameSource(info.room_id, per_frame, ticks)

            states = [RoomState(RoomInfo(str(r), ROOM0 + r, 2), pinned=True) for r in range(rooms)]
            tasks = [
                asyncio.create_task(Ingest(s, store, factory, tuning=tuning, hooks=hooks).run())
                for s in states
            ]

            async def run(n: int) -> None:
                for _ in range(n):
                    target = sum(s.stored for s in states) + rooms * per_frame
                    ticks.next()
                    while sum(s.stored for s in states) < target:  # noqa: ASYNC110
                        await asyncio.sleep(0)

            while ticks.sources < rooms:  # noqa: ASYNC110 - rooms opening: not measured
                await asyncio.sleep(0.01)
            await run(20)  # warm-up
            stored0, cpu0 = sum(s.stored for s in states), time.thread_time()
            await run(n_ticks)
            cpu = time.thread_time() - cpu0
            stored = sum(s.stored for s in states) - stored0
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return 1e6 * cpu / max(1, stored)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--per-frame", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DYLIVE_LOG_LEVEL", "warning")
    where = Path(dylive.__file__).resolve().parent.parent
    run: Any = asyncio.run
    if args.uvloop:
        import uvloop

        run = uvloop.run
    runtime.tune_gc()
    figures = []
    for _ in range(args.rounds):
        figures.append(run(one_round(args.rooms, args.ticks, args.per_frame)))
    figures.sort()
    print(
        f"{where}: loop thread µs per message, rounds {' '.join(f'{f:.2f}' for f in figures)};"
        f" median {figures[len(figures) // 2]:.2f} (load {os.getloadavg()[0]:.2f})",
        flush=True,
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
