"""History chat pages from a kept read snapshot (``store/sqlite/snapshot.py``): a full page from
the snapshot is the page a fresh read gives, a short one is read fresh, an old snapshot is
renewed, commits between pages make no page miss a row, retention's interplay is as documented,
and a due WAL restart ends the snapshot (the WAL stays bounded under writes and history reads)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import orjson
import pytest
from support.waiting import until

from dylive.store import JoinedPage, Record, SQLiteStore
from dylive.store.migrations import to_signed
from dylive.store.rows import now_ms
from dylive.store.sqlite.checkpointer import wal_frames
from dylive.store.sqlite.pages import JoinedScan

ROOM = 6922580638159719176
OTHER = ROOM + 1
CHAT = "WebcastChatMessage"
CHATS = frozenset({CHAT})
KEPT = 60.0  # seconds: no snapshot ends by age during a test that does not want it to


def rec(msg_id: int, room: int = ROOM, method: str = CHAT) -> Record:
    return Record(room, msg_id, method, 7, orjson.dumps({"msg_id": msg_id}), b"raw")


def mixed(first: int, n: int, room: int = ROOM) -> list[Record]:
    """Chats with a like every third row (a method filter then skips some)."""
    return [rec(i, room, CHAT if i % 3 else "WebcastLikeMessage") for i in range(first, first + n)]


def fresh(
    path: Path, room: int, after: int, limit: int, methods: frozenset[str] | None
) -> JoinedPage:
    """The page read on a new connection: the latest state."""
    conn = sqlite3.connect(path)
    try:
        return JoinedScan(to_signed(room), after, limit, methods).run(conn).page()
    finally:
        conn.close()


async def history_store(path: Path, age: float = KEPT, **kwargs: object) -> SQLiteStore:
    store = SQLiteStore(path, tail_size=8, snapshot_age=age, **kwargs)  # type: ignore[arg-type]
    await store.open()
    await store.append(mixed(1, 300))
    await store.read(ROOM, await store.last_seq(ROOM) - 1, 1)  # the room's tail cached
    return store


@pytest.mark.parametrize("methods", [None, CHATS])
async def test_a_full_page_from_the_snapshot_is_the_fresh_page(
    tmp_path: Path, methods: frozenset[str] | None
) -> None:
    path = tmp_path / "s.db"
    store = await history_store(path)
    try:
        snapshot = store.snapshot
        assert snapshot is not None
        first = await store.read_joined(ROOM, 10, 50, methods)
        assert snapshot.open and snapshot.begun == 1
        assert first == fresh(path, ROOM, 10, 50, methods)
        await store.append(mixed(301, 100) + mixed(1, 50, OTHER))  # commits the snapshot misses
        for after in (0, 60, 200, 240):
            page = await store.read_joined(ROOM, after, 50, methods)
            assert page.size == 50
            assert page == fresh(path, ROOM, after, 50, methods), after
        assert snapshot.begun == 1 and snapshot.short == 0  # all from the one snapshot
    finally:
        await store.close()


@pytest.mark.parametrize("methods", [None, CHATS])
async def test_a_short_page_is_read_fresh(tmp_path: Path, methods: frozenset[str] | None) -> None:
    path = tmp_path / "s.db"
    store = await history_store(path)
    try:
        snapshot = store.snapshot
        assert snapshot is not None
        await store.read_joined(ROOM, 10, 50, methods)  # the snapshot: 300 rows of the room
        await store.append(mixed(301, 100))
        page = await store.read_joined(ROOM, 250, 200, methods)
        assert snapshot.short == 1 and snapshot.begun == 1
        assert page == fresh(path, ROOM, 250, 200, methods)
        assert page.last_seq == await store.last_seq(ROOM)  # rows committed after the snapshot
    finally:
        await store.close()


async def test_a_snapshot_older_than_the_bound_is_renewed(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = await history_store(path, age=0.05)
    try:
        snapshot = store.snapshot
        assert snapshot is not None
        await store.read_joined(ROOM, 10, 50)
        assert snapshot.begun == 1
        await store.append(mixed(301, 100))
        await until(lambda: not snapshot.open, 10, "the snapshot ended by age")
        page = await store.read_joined(ROOM, 250, 100)  # in a new snapshot: full, not short
        assert snapshot.begun == 2 and snapshot.short == 0
        assert page == fresh(path, ROOM, 250, 100, None) and page.size == 100
    finally:
        await store.close()


@pytest.mark.parametrize("methods", [None, CHATS])
async def test_commits_between_pages_make_no_page_miss_a_row(
    tmp_path: Path, methods: frozenset[str] | None
) -> None:
    path = tmp_path / "s.db"
    store = await history_store(path)
    try:
        got: list[int] = []
        after, next_id = 0, 301
        while after < await store.last_seq(ROOM):
            page = await store.read_joined(ROOM, after, 40, methods)
            got.extend(m["msg_id"] for m in orjson.loads(b"[" + page.body + b"]"))
            after = page.last_seq
            if next_id < 600:  # a commit between every two pages, the room's and another's
                await store.append(mixed(next_id, 7) + mixed(next_id, 3, OTHER))
                next_id += 7
        wanted = [i for i in range(1, next_id) if methods is None or i % 3]
        assert got == wanted
        assert store.snapshot is not None and store.snapshot.begun == 1
    finally:
        await store.close()


async def test_retention_shows_at_most_the_snapshot_s_deleted_rows(tmp_path: Path) -> None:
    """A page from a snapshot may still show rows retention deleted after it began (the
    documented interplay); once renewed, pages start at the first kept row; a walk across the
    delete misses none of the kept rows."""
    path = tmp_path / "s.db"
    store = await history_store(path)
    try:
        snapshot = store.snapshot
        assert snapshot is not None
        before = await store.read_joined(ROOM, 0, 50)  # the snapshot begins with rows 1-300
        stamp = now_ms()
        await until(lambda: now_ms() > stamp, 5, "a later millisecond")
        await store.append(mixed(301, 100))  # stored after the cutoff
        assert await store.prune(stamp + 1) == 300
        assert await store.read_joined(ROOM, 0, 50) == before  # deleted rows, from the snapshot
        walked: list[int] = []
        after = 0
        while after < await store.last_seq(ROOM):
            page = await store.read_joined(ROOM, after, 50)
            walked.extend(m["msg_id"] for m in orjson.loads(b"[" + page.body + b"]"))
            after = page.last_seq
        assert walked[-100:] == list(range(301, 401))  # every kept row, in order, once
        snapshot.end()
        renewed = await store.read_joined(ROOM, 0, 50)
        assert renewed == fresh(path, ROOM, 0, 50, None)
        assert orjson.loads(b"[" + renewed.body + b"]")[0]["msg_id"] == 301
    finally:
        await store.close()


async def test_off_without_age_or_checkpointer(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "a.db", snapshot_age=0) as store:
        assert store.snapshot is None
    async with SQLiteStore(tmp_path / "b.db", background_checkpoints=False) as store:
        assert store.snapshot is None  # nothing would let the WAL restart past it
    async with SQLiteStore(tmp_path / "c.db") as store:
        assert store.snapshot is not None  # on by default (the history_snapshot setting)


async def test_a_due_restart_ends_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = await history_store(path)
    try:
        snapshot, checkpointer = store.snapshot, store.checkpointer
        assert snapshot is not None and checkpointer is not None
        await store.read_joined(ROOM, 10, 50)
        assert snapshot.open
        checkpointer.restart_due.set()
        await store.append(mixed(301, 100))
        page = await store.read_joined(ROOM, 250, 100)  # read fresh, no snapshot kept
        assert not snapshot.open and snapshot.begun == 1
        assert page == fresh(path, ROOM, 250, 100, None) and page.size == 100
        checkpointer.restart_due.clear()
        await store.read_joined(ROOM, 10, 50)
        assert snapshot.open and snapshot.begun == 2
    finally:
        await store.close()


async def test_the_wal_restarts_under_writes_and_history_reads(tmp_path: Path) -> None:
    """Writes never pause and history pages come between them (each from the kept snapshot):
    the WAL is still started again from its beginning, over and over, and never holds a third
    of what was written (the bound of test_sqlite_checkpointer's readers)."""
    path = tmp_path / "w.db"
    pages, frame = 256, 4096 + 24
    total = 24 * pages
    shm, wal = f"{path}-shm", Path(f"{path}-wal")
    store = await history_store(path, wal_autocheckpoint=pages, wal_hard_cap=1_000)
    try:
        written, last, largest, restarted, msg = 0, 0, 0, 0, 1_000
        while written < total:
            msg += 4
            await store.append([rec(msg + i, OTHER) for i in range(3)] + [rec(msg + 3)])
            page = await store.read_joined(ROOM, msg % 200, 50)
            assert page.size == 50
            now = wal_frames(shm)
            assert now is not None
            restarted += now[0] < last
            written += now[0] - last if now[0] >= last else now[0]
            last = now[0]
            largest = max(largest, os.stat(wal).st_size)
        assert store.checkpointer is not None and store.snapshot is not None
        stats = store.checkpointer.stats
        assert store.snapshot.begun >= 1 and store.snapshot.short == 0  # pages kept
    finally:
        await store.close()
    assert restarted >= 3, (restarted, stats)
    assert largest <= total // 3 * frame + 32, (largest // frame, stats)
    assert stats.errors == 0, stats
