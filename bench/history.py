"""History chat pages in process: where the CPU of reading one 50-message page from SQLite goes.

``bench/api.py b`` measures history pages over HTTP (the service's CPU per request, the rate
against a bare endpoint). This splits the read of one such page in process, on the same data
(100,000 messages of one room, ``api.record``) and the same cursors (32 pollers × 400
consecutive pages of ``count=50``, the default method filter), as CPU time of this thread per
call (``time.thread_time``: a busy machine changes it less than it changes rates). Phases:

- ``seek``: one descent of the covering index (the first row after the cursor);
- ``walk``: the page's 50 index entries walked, nothing read from them (``count(*)`` over the
  ordered ``LIMIT`` subquery the page statements use): the B-tree walk alone;
- ``concat all``: the 50 rows' rendered JSON joined by SQL, no method filter (the statement of
  ``methods=all``);
- ``page SQL``: the store's statement of the default method filter (``pages._filter``) executed
  and fetched: what a history page costs in SQLite;
- ``read_joined``: the store's whole read as the chat endpoint awaits it (loop thread);
- ``read_joined tail``: the same at the live edge (from the tail cache, no SQL);
- ``chat_body``: the response bytes built from a page.

The phases alternate for ``--rounds``; min and median µs per call are printed, and the load.
Another tree: ``PYTHONPATH=<tree>/src python bench/history.py`` (same data, same phases).

``--requests``: then whole chat requests in process, as ``bench/api.py b`` sends them (its
cursors, 32 pollers interleaved, 100 pages each a round) to the app of ``create_app`` behind the
httptools edge protocol of ``server_config``, fed through an in-memory transport
(``bench/longpoll_inproc.py``'s): the thread CPU of a request from its bytes to its response,
``request live`` (pages from the tail cache) and ``request history`` (pages from SQLite). The
difference of the two is what a history page costs inside the service, where its statement
runs between other requests' Python (about twice ``page SQL`` in a tight loop, eighth session
of docs/benchmarks.md).

``--commits HZ`` (with ``--requests``): meanwhile a thread of this process commits ``HZ`` times a
second (20 rows of another room each, on a connection of its own, as the service's writer thread
commits the live rooms' rows): SQLite then starts most history reads after a commit. The largest
``-wal`` file seen after those commits is printed (a kept read snapshot holds checkpoints back).

Usage: ``python bench/history.py [--rounds 5] [--db PATH] [--requests [--commits HZ]]``
(``--db``: keep the database there and reuse it on the next run; default: a temporary one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from api import ROOM, record

from dylive.app.delivery import DEFAULT_METHODS
from dylive.serve.compat import chat_body
from dylive.store import SQLiteStore
from dylive.store.migrations import to_signed

MESSAGES = 100_000
SUB = " FROM events WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT 50)"


async def build(path: Path) -> None:
    async with SQLiteStore(path) as store:
        rows = [record(ROOM, 6922636275858098944 + i) for i in range(MESSAGES)]
        for i in range(0, len(rows), 5000):
            await store.append(rows[i : i + 5000])


def cursors(first: int) -> list[int]:
    """``bench/api.py``'s history cursors (as seqs): poller p walks 400 consecutive pages."""
    return [first - 1 + (p * 3001 + k * 50) % 99_900 for p in range(32) for k in range(400)]


async def main(args: argparse.Namespace) -> None:
    tmp = tempfile.mkdtemp(prefix="dylive-history-")
    try:
        path = Path(args.db) if args.db else Path(tmp) / "h.sqlite3"
        if not path.exists():
            await build(path)
        await measure(path, args.rounds)
        if args.requests:
            await requests(path, Path(tmp) / "requests.sqlite3", args.rounds, args.commits)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def measure(path: Path, rounds: int) -> None:
    from dylive.store.sqlite import pages

    room = to_signed(ROOM)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA query_only=1")
    first = conn.execute("SELECT min(seq) FROM events WHERE room_id = ?", (room,)).fetchone()[0]
    seqs = cursors(first)
    page_sql, _, _, wanted = pages._filter(DEFAULT_METHODS)
    sync: dict[str, Callable[[int], object]] = {
        "seek": lambda after: conn.execute(
            "SELECT seq FROM events WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT 1",
            (room, after),
        ).fetchone(),
        "walk": lambda after: conn.execute(
            "SELECT count(*) FROM (SELECT seq" + SUB, (room, after)
        ).fetchone(),
        "concat all": lambda after: conn.execute(
            "SELECT count(*), max(seq), msg_id, CAST(group_concat(rendered, ',') AS BLOB)"
            " FROM (SELECT seq, msg_id, rendered" + SUB,
            (room, after),
        ).fetchone(),
        "page SQL": lambda after: conn.execute(page_sql, (*wanted, room, after, 50)).fetchone(),
    }
    async with SQLiteStore(path) as store:
        last = await store.last_seq(ROOM)
        await store.read(ROOM, last - 5, 5)  # the room's tail cached, as live polling does
        page = await store.read_joined(ROOM, seqs[0], 50, DEFAULT_METHODS)
        live = [last - 200 + i % 150 for i in range(len(seqs))]
        reads: dict[str, tuple[Callable[[int], Awaitable[object]], list[int]]] = {
            "read_joined": (lambda a: store.read_joined(ROOM, a, 50, DEFAULT_METHODS), seqs),
            "read_joined tail": (lambda a: store.read_joined(ROOM, a, 50, DEFAULT_METHODS), live),
        }
        body = {
            "chat_body": lambda _: chat_body(
                page, last_msg_id=page.last_msg_id, now=1, start=1, interval=0, coverage=None
            )
        }
        spent: dict[str, list[float]] = {}
        for _ in range(rounds):
            for name, fn in {**sync, **body}.items():
                started = time.thread_time()
                for after in seqs:
                    fn(after)
                spent.setdefault(name, []).append((time.thread_time() - started) / len(seqs))
            for name, (read, args) in reads.items():
                started = time.thread_time()
                for after in args:
                    await read(after)
                spent.setdefault(name, []).append((time.thread_time() - started) / len(args))
    conn.close()
    print(
        f"history page reads in process: {MESSAGES:,} messages in one room, {len(seqs):,}"
        f" cursors, 50-message pages ({page.size} messages, {len(page.body):,} bytes),"
        f" {rounds} rounds, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    for name, xs in spent.items():
        print(
            f"    {name:17} min {min(xs) * 1e6:6.1f} us  median {statistics.median(xs) * 1e6:6.1f}"
            " us per call"
        )


class Committer:
    """A thread committing ``hz`` times a second on its own connection (``--commits``): 20 rows
    of another room each; ``largest``: the largest ``-wal`` file seen after a commit."""

    def __init__(self, db: Path, hz: float) -> None:
        self.db, self.hz = db, hz
        self.commits = self.largest = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Committer:
        if self.hz > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        conn = sqlite3.connect(self.db, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=5000")
        wal = Path(f"{self.db}-wal")
        other, msg = to_signed(ROOM + 1), 1 << 40
        while not self._stop.wait(1 / self.hz):
            rows = []
            for _ in range(20):
                msg += 1
                r = record(ROOM + 1, msg)
                rows.append((other, msg, r.method, r.created_at, 0, r.rendered, r.raw))
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO events (room_id, msg_id, method, created_at, stored_at, rendered,"
                " raw) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute("COMMIT")
            self.commits += 1
            with contextlib.suppress(OSError):
                self.largest = max(self.largest, wal.stat().st_size)
        conn.close()


async def requests(source: Path, db: Path, rounds: int, commits: float = 0.0) -> None:
    """Whole chat requests in process (``--requests``, see the module doc); ``db``: a copy of
    ``source`` with a token and the room's record; ``commits``: see ``--commits``."""
    import uvicorn
    from longpoll_inproc import Transport

    from dylive.app import ServiceConfig
    from dylive.serve import tokens
    from dylive.serve.app import create_app
    from dylive.serve.limits import server_config
    from dylive.store import RoomRecord, open_store

    shutil.copy(source, db)
    async with open_store(str(db)) as store:
        token = await tokens.create(store, "bench")
        await store.upsert_room(RoomRecord(ROOM, web_rid="615189692839", status=2))
    app = create_app(
        ServiceConfig(db=str(db), upstream="http://127.0.0.1:9", ranklist=False, metering=False)
    )
    config = server_config(app, "127.0.0.1", 0, http="httptools", lifespan="off")
    config.load()
    now = int(time.time() * 1000)

    def target(live: bool, poller: int, k: int) -> bytes:
        seq = 99_800 + (poller * 7 + k) % 150 if live else (poller * 3001 + k * 50) % 99_900
        path = f"/douyin/liveroom/chat?token={token}&room_id={ROOM}&count=50&cursor={now}_0_{seq}_1"
        return f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()

    spent: dict[str, list[float]] = {}
    async with app.router.lifespan_context(app):
        state = uvicorn.server.ServerState()
        protocol = config.http_protocol_class(config=config, server_state=state, app_state={})
        transport = Transport()
        protocol.connection_made(transport)

        async def get(request: bytes) -> float:
            transport.out.clear()
            transport.done.clear()
            started = time.thread_time()
            protocol.data_received(request)
            await transport.done.wait()
            used = time.thread_time() - started
            if len(transport.out) < 20_000:  # a 50-message page, not an error
                raise SystemExit(f"unexpected answer: {bytes(transport.out[:300])!r}")
            return used

        await get(target(True, 0, 0))  # the room's tail cached
        committer = Committer(db, commits).__enter__()
        for _ in range(rounds):
            for name, live in (("request live", True), ("request history", False)):
                paths = [target(live, p, k) for k in range(100) for p in range(32)]
                used = 0.0
                for request in paths:
                    used += await get(request)
                spent.setdefault(name, []).append(used / len(paths))
        committer.__exit__()
        protocol.connection_lost(None)
    print(
        f"chat requests in process (httptools edge, 3,200 a round, {rounds} rounds),"
        f" load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        + (
            f"; {committer.commits:,} commits of another thread, largest WAL"
            f" {committer.largest / 1e6:.1f} MB"
            if commits
            else ""
        )
    )
    for name, xs in spent.items():
        print(
            f"    {name:17} min {min(xs) * 1e6:6.1f} us  median {statistics.median(xs) * 1e6:6.1f}"
            " us per request"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="history chat page reads, in process")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", default="", help="keep (and reuse) the database at this path")
    parser.add_argument(
        "--requests", action="store_true", help="also whole chat requests, live and history"
    )
    parser.add_argument(
        "--commits", type=float, default=0.0, help="with --requests: commits a second beside"
    )
    asyncio.run(main(parser.parse_args()))
