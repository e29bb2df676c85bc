"""The SQLite writer paced like the collectors; prints figures (no assertions).

``--rooms`` rooms each append a batch of 3 chat records with an upstream position every 0.25 s
(what a pushed room at 12 messages/s looks like to the store: one append per push frame) into one
:class:`~dylive.store.SQLiteStore` for ``--seconds`` after a 3 s ramp, and save their analytics
session (``Sessions.save_session``, ~2 KB of state and report) every ``--sessions`` seconds, as
the service's analytics does. The records are ``bench/api.py``'s chat record (~560 bytes of
rendered JSON) with ``--raw`` bytes of payload (947: the average of what ``bench/api.py c``
stores) and Douyin-like msg_ids (unix seconds << 32 | random, per room increasing, as the
simulator makes them). ``--prefill N`` stores N rows of the same rooms first (a store that
already holds history: deeper index b-trees, a larger working set). ``--positions 1`` (default):
after each append the room's long-poller moves its token's read position (``set_position``,
coalesced as the service's long-polls are: ~0.4 position upserts a row in the service's
batches). ``--hog``: a busy-looping process runs beside the rounds (the service's other core is
never idle). ``--readers N``: N threads, each with its own read-only connection as the service's
readers have, read a room's newest 50 rows every ``--read-every`` s, inside a read transaction
held ``--hold`` s (0: the read alone) — the service's loop-thread and reader connections keep
WAL read marks; the round also prints the WAL file's largest size. Prints the rows stored per
second, the commits, and the CPU per stored row of the writer thread and of the whole process
(per-thread figures from /proc: the store's writer thread is the busiest thread that is not the
event loop's). ``--checkpoint 1000,10000`` runs one round per value of ``wal_autocheckpoint``
(pages of WAL between automatic checkpoints), alternating, ``--repeat`` times: the ratio of the
writer's CPU per row between them does not depend on how busy the machine is. Each round also
prints the writer thread's read and write system calls per row (``pread``/``pwrite``: SQLite's
page reads and WAL frame writes), and the checkpointer thread's (its page copies). ``--frames N``: no checkpoints at all during the round, and the
WAL frames written in the measured window are mapped to the tables and indexes they belong to
(``bench/walframes.py``): frames per row by b-tree, and distinct pages per row in runs of N
frames (what a checkpoint every N frames copies).

Usage: ``python bench/writer.py [--rooms 200 --seconds 40 --checkpoint 1000,10000 --repeat 2
--sessions 2.5 --raw 947 --prefill 0 --positions 1 --hog]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import record, thread_ticks
from walframes import report, thread_io

from dylive.store import SQLiteStore
from dylive.store.migrations import to_signed
from dylive.store.records import SessionRecord, UpstreamPosition
from dylive.store.sqlite.checkpointer import wal_frames

ROOM0 = 7_000_000_000_000_000_000
WRITER = "dylive-sqlite-w"  # the name of the store's writer thread
CKPT = "dylive-sqlite-ckpt"  # the checkpointer's
T0 = 1_765_000_000  # unix seconds of the first msg_id


class Ids:
    """A room's msg_ids as the simulator makes them (``sim/rooms.py`` ``IdAllocator``)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.last = 0

    def next(self, second: int) -> int:
        candidate = ((T0 + second) << 32) | self.rng.getrandbits(20)
        self.last = max(self.last + 1 + self.rng.getrandbits(8), candidate)
        return self.last


def prefill(path: Path, rooms: int, rows: int, raw: bytes) -> None:
    """``rows`` rows of ``rooms`` rooms straight into the events table (in the order the
    collectors would have stored them, 3 a room in turn), then a checkpoint."""
    sample = record(ROOM0, 1)
    ids = [Ids(r) for r in range(rooms)]
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for turn in range(rows // 3):
            r = turn % rooms
            room_id, second = ROOM0 + r * 7919, turn // (rooms * 4) - 10**6 // 12
            conn.executemany(
                "INSERT INTO events (room_id, msg_id, method, created_at, stored_at, rendered,"
                " raw) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (to_signed(room_id), to_signed(ids[r].next(second)), sample.method,
                     sample.created_at, 0, sample.rendered, raw)
                    for _ in range(3)
                ],
            )  # fmt: skip
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def start_readers(
    path: Path, args: argparse.Namespace, rooms: int
) -> tuple[threading.Event, list[threading.Thread]]:
    """``--readers`` threads reading as the service's readers do (set the event to stop them)."""
    done = threading.Event()

    def read(n: int) -> None:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA query_only=1")
        rng = random.Random(n)
        try:
            while not done.is_set():
                room_id = to_signed(ROOM0 + rng.randrange(rooms) * 7919)
                conn.execute("BEGIN")
                conn.execute(
                    "SELECT seq, rendered FROM events WHERE room_id = ? ORDER BY seq DESC LIMIT 50",
                    (room_id,),
                ).fetchall()
                if args.hold:
                    done.wait(args.hold)
                conn.execute("COMMIT")
                done.wait(args.read_every)
        finally:
            conn.close()

    threads = [threading.Thread(target=read, args=(n,), daemon=True) for n in range(args.readers)]
    for t in threads:
        t.start()
    return done, threads


def start_hog() -> subprocess.Popen[bytes]:
    """A process that keeps a core busy (``--hog``)."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


async def run(
    rooms: int, seconds: float, checkpoint: int, args: argparse.Namespace
) -> tuple[float, float, float]:
    """One round: (rows/s, writer thread µs/row, process µs/row)."""
    raw = os.urandom(args.raw)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.sqlite3"
        if args.prefill:
            async with SQLiteStore(path):  # the schema
                pass
            prefill(path, rooms, args.prefill, raw)
        if args.frames:  # no checkpoint: every frame of the window stays in the WAL
            store = SQLiteStore(path, wal_autocheckpoint=10**8, background_checkpoints=False)
        else:
            store = SQLiteStore(path, wal_autocheckpoint=checkpoint)
        waits: list[float] = []
        async with store:
            stored = 0
            started = time.monotonic()
            stop = started + seconds + 4

            async def room(r: int) -> None:
                nonlocal stored
                room_id, ids = ROOM0 + r * 7919, Ids(r)
                await asyncio.sleep(0.25 * r / rooms)
                while time.monotonic() < stop:
                    second = int(time.monotonic() - started)
                    batch = [replace(record(room_id, ids.next(second)), raw=raw) for _ in range(3)]
                    msg = ids.last
                    ext = f"internal_src:dim|first_req_ms:1|seq:{msg}"
                    position = UpstreamPosition(room_id, "push", cursor=f"c{msg}", internal_ext=ext)
                    sent = time.perf_counter()
                    await store.append(batch, position=position)
                    waits.append(time.perf_counter() - sent)
                    stored += 3
                    if args.positions:  # the room's long-poller moves its token's read position
                        await store.set_position(1, room_id, store._last[room_id], wait=False)
                    await asyncio.sleep(0.25)

            async def session(r: int) -> None:
                room_id = ROOM0 + r * 7919
                await asyncio.sleep(args.sessions * r / rooms)
                s = await store.open_session(SessionRecord(0, room_id, web_rid=str(r)))
                while time.monotonic() < stop:
                    await asyncio.sleep(args.sessions)
                    new = replace(
                        s, last_seq=s.last_seq + 1, state=os.urandom(700), report=os.urandom(1300)
                    )
                    if await store.save_session(new, s.last_seq):
                        s = new

            hog = start_hog() if args.hog else None
            reading = start_readers(path, args, rooms) if args.readers else None
            walmax, sampling = [0], threading.Event()

            def sample_wal() -> None:
                wal = Path(f"{path}-wal")
                while not sampling.wait(0.5):
                    with contextlib.suppress(OSError):
                        walmax[0] = max(walmax[0], wal.stat().st_size)

            sampler = threading.Thread(target=sample_wal, daemon=True)
            sampler.start()
            tasks = [asyncio.create_task(room(r)) for r in range(rooms)]
            if args.sessions > 0:
                tasks += [asyncio.create_task(session(r)) for r in range(rooms)]
            await asyncio.sleep(3)
            wtid = next(t.native_id for t in threading.enumerate() if t.name.startswith(WRITER))
            before, rows0, cpu0 = thread_ticks(), stored, time.process_time()
            io0, frame0 = thread_io(wtid), wal_frames(f"{path}-shm")
            ck = next((t.native_id for t in threading.enumerate() if t.name == CKPT), None)
            cio0 = thread_io(ck) if ck else (0, 0)
            waits.clear()
            await asyncio.sleep(seconds)
            after, rows, cpu = thread_ticks(), stored - rows0, time.process_time() - cpu0
            io1, frame1 = thread_io(wtid), wal_frames(f"{path}-shm")
            cio1 = thread_io(ck) if ck else (0, 0)
            named = {t.name: t.native_id for t in threading.enumerate()}
            if args.frames and frame0 and frame1:
                report(path, frame0[0] + 1, frame1[0], rows, args.frames)
            measured = sorted(waits)
            await asyncio.gather(*tasks)
            commits = store.batches
            sampling.set()
            sampler.join()
            if reading is not None:
                reading[0].set()
                for t in reading[1]:
                    t.join()
            if hog is not None:
                hog.kill()
                hog.wait()
    hz = os.sysconf("SC_CLK_TCK")
    loop_thread = os.getpid()
    busiest = max((after[t] - before.get(t, 0) for t in after if t != loop_thread), default=0)
    # by name when the writer's thread is known (a checkpointer thread may be beside it)
    busiest = after.get(wtid, 0) - before.get(wtid, 0)
    writer = busiest / hz / rows * 1e6
    ctid = named.get(CKPT)
    ckpt = (after.get(ctid, 0) - before.get(ctid, 0)) / hz / rows * 1e6 if ctid else 0.0
    p99 = measured[int(len(measured) * 0.99)] if measured else 0.0
    top = measured[-1] if measured else 0.0
    print(
        f"  wal_autocheckpoint={checkpoint}: {rows / seconds:,.0f} rows/s, {commits} commits;"
        f" writer thread {writer:.1f} µs/row, checkpointer {ckpt:.1f}, process"
        f" {cpu / rows * 1e6:.1f} µs/row; append p99 {p99 * 1e3:.0f} ms, max {top * 1e3:.0f} ms;"
        f" WAL at most {walmax[0] / 1e6:.1f} MB; writer read/write system calls a row"
        f" {(io1[0] - io0[0]) / rows:.2f} / {(io1[1] - io0[1]) / rows:.2f}, checkpointer's"
        f" {(cio1[0] - cio0[0]) / rows:.2f} / {(cio1[1] - cio0[1]) / rows:.2f}"
    )
    checkpointer = getattr(store, "checkpointer", None)  # None on main before this branch
    if checkpointer is not None:
        print(f"  checkpointer: {checkpointer.stats}")
    return rows / seconds, writer, cpu / rows * 1e6


async def steady(args: argparse.Namespace) -> None:
    """``--ops N``: no pacing, the same work every run (for callgrind, or the writer's CPU per
    row without the machine's noise in the pacing): ``N`` commits, each of ``--per`` appends of
    3 rows with an upstream position (rooms in turn), their read positions (set, coalesced,
    written every 7th commit: ~0.4 upserts a row as in the service) and one session save."""
    raw = random.Random(1).randbytes(args.raw)
    rooms = args.rooms
    ids = [Ids(r) for r in range(rooms)]
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        path = Path(tmp) / "w.sqlite3"
        store = SQLiteStore(path, wal_autocheckpoint=int(args.checkpoint.split(",")[0]))
        store.commit_interval = 0.0
        store._position_delay = 1e9  # flushed every 7th commit below, not on a timer
        async with store:
            sessions = [
                await store.open_session(SessionRecord(0, ROOM0 + r * 7919, web_rid=str(r)))
                for r in range(rooms)
            ]
            rng = random.Random(2)
            turn = 0
            wtid = next(t.native_id for t in threading.enumerate() if t.name.startswith(WRITER))
            before, cpu0, rows, io0 = thread_ticks(), time.process_time(), 0, thread_io(wtid)
            for n in range(args.ops):
                calls = []
                for _ in range(args.per):
                    r = turn % rooms
                    turn += 1
                    room_id = ROOM0 + r * 7919
                    second = turn // (rooms * 4)
                    batch = [replace(record(room_id, 1), msg_id=ids[r].next(second), raw=raw)
                             for _ in range(3)]  # fmt: skip
                    msg = ids[r].last
                    ext = f"internal_src:dim|first_req_ms:1|seq:{msg}"
                    position = UpstreamPosition(room_id, "push", cursor=f"c{msg}", internal_ext=ext)
                    calls.append(store.append(batch, position=position))
                s = sessions[n % rooms]
                new = replace(
                    s, last_seq=s.last_seq + 1, state=rng.randbytes(700), report=rng.randbytes(1300)
                )
                calls.append(store.save_session(new, s.last_seq))
                await asyncio.gather(*calls)
                sessions[n % rooms] = new
                rows += 3 * args.per
                for k in range(args.per):
                    room_id = ROOM0 + ((turn - 1 - k) % rooms) * 7919
                    await store.set_position(1, room_id, store._last[room_id], wait=False)
                if n % 7 == 6:
                    store._flush_positions()
            after, cpu = thread_ticks(), time.process_time() - cpu0
            io1, commits = thread_io(wtid), store.batches
    hz = os.sysconf("SC_CLK_TCK")
    writer = (after.get(wtid, 0) - before.get(wtid, 0)) / hz / rows * 1e6
    print(
        f"steady: {args.ops} commits of {args.per} appends ({rows:,} rows): writer thread"
        f" {writer:.1f} µs/row, process {cpu / rows * 1e6:.1f} µs/row; {commits} commits in all;"
        f" writer read/write system calls a row {(io1[0] - io0[0]) / rows:.2f}"
        f" / {(io1[1] - io0[1]) / rows:.2f}"
    )


async def main(args: argparse.Namespace) -> None:
    if args.ops:
        await steady(args)
        return
    values = [int(v) for v in args.checkpoint.split(",")]
    load = os.getloadavg()[0]
    print(
        f"writer: {args.rooms} rooms, {args.seconds:g} s a round, sessions every"
        f" {args.sessions:g} s, raw {args.raw} bytes, prefill {args.prefill:,} rows, load {load:.2f}"
    )
    got: dict[int, list[tuple[float, float, float]]] = {v: [] for v in values}
    for _ in range(args.repeat):
        for v in values:
            got[v].append(await run(args.rooms, args.seconds, v, args))
    base = statistics.median(r[1] for r in got[values[0]])
    for v in values:
        writer = statistics.median(r[1] for r in got[v])
        proc = statistics.median(r[2] for r in got[v])
        print(
            f"wal_autocheckpoint={v}: writer {writer:.1f} µs/row (median of {args.repeat}),"
            f" process {proc:.1f} µs/row; writer vs {values[0]}: {writer / base:.2f}"
        )
    print(f"load average {load:.2f} → {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--checkpoint", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sessions", type=float, default=2.5, help="s between session saves")
    parser.add_argument("--raw", type=int, default=947, help="raw payload bytes a record")
    parser.add_argument(
        "--positions", type=int, default=1, help="1: a token read position a room per append"
    )
    parser.add_argument(
        "--hog", action="store_true", help="a busy process beside (the service's other core)"
    )
    parser.add_argument("--readers", type=int, default=0, help="reader threads (see above)")
    parser.add_argument("--read-every", type=float, default=0.01, help="s between a reader's reads")
    parser.add_argument("--hold", type=float, default=0.0, help="s a read transaction stays open")
    parser.add_argument("--prefill", type=int, default=0, help="rows stored before the rounds")
    parser.add_argument(
        "--frames",
        type=int,
        default=0,
        help="N: no checkpoints; print the window's WAL frames a row by b-tree (walframes.py)"
        " and the distinct pages in runs of N frames",
    )
    parser.add_argument("--ops", type=int, default=0, help="N: unpaced, N commits (see steady)")
    parser.add_argument("--per", type=int, default=11, help="--ops: appends a commit")
    parser.add_argument("--tmp", default=None, help="--ops: directory of the database")
    asyncio.run(main(parser.parse_args()))
