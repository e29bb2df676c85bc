"""WAL checkpoints on their own thread (``store/sqlite/checkpointer.py``): the WAL stays
bounded under continuous writes with readers, busy and failing checkpoints are retried, and the
thread ends with the store."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dylive.store import Record, SQLiteStore
from dylive.store.sqlite.checkpointer import Checkpointer, wal_frames

ROOMS = [6922580638159719176 + r for r in range(40)]
FRAME = 4096 + 24

# Run in another process: is a lock held on SQLite's dead-man-switch byte of a ``-shm`` file
# (offset 128: after the 8 WAL locks at 120)? Only another process sees locks this one holds.
DMS_PROBE = """
import fcntl, sys
with open(sys.argv[1], "r+b") as f:
    try:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
    except OSError:
        print("held")
    else:
        print("free")
"""


def rec(msg_id: int, room: int) -> Record:
    return Record(
        room_id=room,
        msg_id=msg_id,
        method="WebcastChatMessage",
        created_at=1_700_000_000_000 + msg_id,
        rendered=b'{"m":"' + os.urandom(200).hex().encode() + b'"}',
        raw=os.urandom(900),
    )


def start_readers(path: Path, stop: threading.Event, n: int = 2) -> list[threading.Thread]:
    """Threads reading back to back, each on its own connection (short read transactions)."""

    def read() -> None:
        conn = sqlite3.connect(path)
        try:
            while not stop.is_set():
                conn.execute(
                    "SELECT seq, rendered FROM events ORDER BY seq DESC LIMIT 20"
                ).fetchall()
        finally:
            conn.close()

    threads = [threading.Thread(target=read, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


async def write_until(store: SQLiteStore, path: Path, frames: int) -> tuple[int, int]:
    """Append continuously (every room at once, no pause) until ``frames`` WAL frames were
    written in all; the largest size of the ``-wal`` file seen after any commit, and how often
    the WAL was seen starting again from its beginning."""
    shm, wal = f"{path}-shm", Path(f"{path}-wal")
    written, last, largest, restarted, msg = 0, 0, 0, 0, 0
    while written < frames:
        msg += 1
        await asyncio.gather(*(store.append([rec(msg * 2, r), rec(msg * 2 + 1, r)]) for r in ROOMS))
        now = wal_frames(shm)
        assert now is not None
        restarted += now[0] < last
        written += now[0] - last if now[0] >= last else now[0]
        last = now[0]
        largest = max(largest, os.stat(wal).st_size)
    return largest, restarted


@pytest.mark.parametrize("hard_cap", [4, 1_000])
async def test_wal_stays_bounded_under_writes_and_reads(tmp_path: Path, hard_cap: int) -> None:
    """The WAL is started again from its beginning, over and over, while writes never pause and
    readers read (``hard_cap`` 4: the writer's own safety net is there too; 1,000: the
    checkpointer alone): it never holds a third of what was written.

    Not a bound in checkpoints' worth of frames: a RESTART waits ``busy_ms`` (10 ms) for the
    readers' read transactions, which a loaded machine stretches past that; it is then tried
    again every ``passive`` frames, so how far the WAL overshoots ``restart`` depends on the
    scheduler: under load that bound failed 4 of 14 runs (up to 8x; docs/benchmarks.md,
    "Seventh session: the checkpointer under load, secure_delete"). Without the checkpointer
    (``hard_cap`` 1,000) the WAL is never started again and holds all of it."""
    path = tmp_path / "w.sqlite3"
    pages = 256
    total = 24 * pages
    stop = threading.Event()
    async with SQLiteStore(path, wal_autocheckpoint=pages, wal_hard_cap=hard_cap) as store:
        readers = start_readers(path, stop)
        try:
            largest, restarted = await write_until(store, path, total)
        finally:
            stop.set()
            for t in readers:
                t.join()
        assert store.checkpointer is not None
        stats = store.checkpointer.stats
    assert restarted >= 3, (restarted, stats)
    assert largest <= total // 3 * FRAME + 32, (largest // FRAME, stats)
    assert stats.errors == 0, stats


async def test_closes_with_the_store(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "c.sqlite3") as store:
        await store.append([rec(1, ROOMS[0])])
        assert any(t.name == "dylive-sqlite-ckpt" for t in threading.enumerate())
    assert not any(t.name == "dylive-sqlite-ckpt" for t in threading.enumerate())
    assert store.checkpointer is not None and store.checkpointer.stats.errors == 0


async def test_failed_checkpoint_is_logged_and_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = Checkpointer._checkpoint
    failures = [sqlite3.OperationalError("disk I/O error")]

    def flaky(self: Checkpointer, mode: str) -> tuple[int, int]:
        if failures:
            raise failures.pop()
        return real(self, mode)

    monkeypatch.setattr(Checkpointer, "_checkpoint", flaky)
    path = tmp_path / "f.sqlite3"
    pages = 64
    async with SQLiteStore(path, wal_autocheckpoint=pages, wal_hard_cap=1_000) as store:
        assert store.checkpointer is not None
        store.checkpointer._backoff = 0.01
        await write_until(store, path, 8 * pages)
        stats = store.checkpointer.stats
        async with asyncio.timeout(10):
            while stats.restarts == 0:
                await store.append([rec(10**6 + stats.passive, ROOMS[0])])
                await asyncio.sleep(0.01)
    assert stats.errors == 1
    assert "background checkpoint failed" in caplog.text


async def test_a_held_snapshot_makes_the_restart_busy_not_fail(tmp_path: Path) -> None:
    """A reader holding an old snapshot: RESTART cannot finish (SQLITE_BUSY), it is counted and
    tried again once the WAL grew; once the reader ends the WAL restarts."""
    path = tmp_path / "b.sqlite3"
    pages = 64
    async with SQLiteStore(path, wal_autocheckpoint=pages, wal_hard_cap=1_000) as store:
        await store.append([rec(1, ROOMS[0])])
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN")
        holder.execute("SELECT count(*) FROM events").fetchone()
        assert store.checkpointer is not None
        stats = store.checkpointer.stats
        msg = 10
        async with asyncio.timeout(20):
            while stats.busy == 0:
                msg += 1
                await asyncio.gather(*(store.append([rec(msg, r)]) for r in ROOMS))
        assert stats.restarts == 0
        holder.execute("COMMIT")
        holder.close()
        restarts = stats.restarts
        async with asyncio.timeout(20):
            while stats.restarts == restarts:
                msg += 1
                await asyncio.gather(*(store.append([rec(msg, r)]) for r in ROOMS))
    assert stats.errors == 0


async def dms_lock(shm: str) -> str:
    """``held`` or ``free``: SQLite's dead-man-switch lock on ``shm`` seen from another process."""
    probe = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", DMS_PROBE, shm],
        capture_output=True,
        text=True,
        check=True,
    )
    return probe.stdout.strip()


async def test_reading_the_wal_index_keeps_sqlite_s_locks(tmp_path: Path) -> None:
    """Reading the wal-index header (the checkpointer every 50 ms, ``wal_frames``) never closes a
    descriptor of the ``-shm`` file: closing any descriptor of a file drops every POSIX lock the
    process holds on it, SQLite's dead-man-switch lock among them. Another process opening the
    database then took itself for its only user and truncated the ``-shm`` under the writer:
    ``dylive serve`` died of SIGBUS in a COMMIT while a test polled the database with sqlite3
    (tests/collect/test_durable_restart.py under load). Fails with ``open()``/``close()``."""
    path = tmp_path / "d.sqlite3"
    shm = f"{path}-shm"
    async with SQLiteStore(path, wal_autocheckpoint=64, wal_hard_cap=1_000) as store:
        assert store.checkpointer is not None
        stats = store.checkpointer.stats
        msg = 0
        async with asyncio.timeout(20):
            while stats.passive < 2:  # the thread read the header before each
                msg += 1
                await asyncio.gather(*(store.append([rec(msg, r)]) for r in ROOMS))
        assert await dms_lock(shm) == "held"
        frames = wal_frames(shm)  # from this thread too
        assert frames is not None and frames[0] > 0
        assert await dms_lock(shm) == "held"
    assert wal_frames(shm) is None  # no connection of this process has it open
