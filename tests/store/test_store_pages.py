"""SQLite page reads: served from the covering index, started on the event loop thread, exact
across a resumed scan, and the schema upgrade from a version-1 database keeps every row."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import orjson

from dylive.store import Record, SQLiteStore
from dylive.store.migrations import SQLITE, to_signed
from dylive.store.sqlite_pages import PageScan, read_page

ROOM = 6922580638159719176
BIG_ROOM = (1 << 64) - 5  # stored as a negative BIGINT
PAGE_SQL = (
    "SELECT seq, msg_id, method, created_at, stored_at, rendered FROM events"
    " WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT ?"
)


def rec(msg_id: int, room: int = ROOM, method: str = "WebcastChatMessage") -> Record:
    return Record(room, msg_id, method, 7, orjson.dumps({"msg_id": msg_id}), b"raw")


async def test_page_reads_use_the_covering_index(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "p.db") as store:
        await store.append([rec(1)])
    conn = sqlite3.connect(tmp_path / "p.db")
    plan = conn.execute("EXPLAIN QUERY PLAN " + PAGE_SQL, (1, 0, 50)).fetchall()
    conn.close()
    assert "COVERING INDEX events_room_page" in plan[0][3]


async def test_small_pages_are_read_on_the_loop_thread(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "p.db", tail_size=4) as store:
        await store.append([rec(i) for i in range(1, 300)])
        await store.read(ROOM, 290, 5)  # installs the tail (a reader thread)
        threads: set[str] = set()
        original = store._rconn

        def spy() -> sqlite3.Connection:
            threads.add(threading.current_thread().name)
            return original()

        store._rconn = spy  # type: ignore[method-assign]
        page = await store.read(ROOM, 10, 50)
        assert [m.msg_id for m in page.messages] == list(range(11, 61))
        assert threads == set()  # no reader thread was asked
        sparse = await store.read(ROOM, 0, 3, frozenset({"WebcastGiftMessage"}))
        assert sparse.messages == [] and sparse.last_seq == await store.last_seq(ROOM)
        assert threads  # a sparse filter went on past the first chunk, on a thread


async def test_a_resumed_scan_equals_one_scan(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    async with SQLiteStore(path) as store:
        methods = ("WebcastChatMessage", "WebcastGiftMessage", "WebcastLikeMessage")
        await store.append([rec(i, BIG_ROOM, methods[i % 7 % 3]) for i in range(1, 2000)])
    one, two = sqlite3.connect(path), sqlite3.connect(path)
    wanted = frozenset({"WebcastGiftMessage"})
    for after, limit in ((0, 50), (100, 7), (1500, 200), (1990, 50)):
        scan = PageScan(to_signed(BIG_ROOM), after, limit, wanted)
        scan.step(one)
        resumed = scan.run(two).page()
        whole = read_page(one, to_signed(BIG_ROOM), after, limit, wanted)
        assert resumed == whole
        assert all(m.room_id == BIG_ROOM and m.method in wanted for m in whole.messages)
        assert whole.ignored and set(whole.ignored) <= set(methods) - wanted
    one.close()
    two.close()


async def test_upgrade_from_version_1_keeps_rows_and_reads(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(SQLITE[0])
    conn.execute("PRAGMA user_version=1")
    conn.executemany(
        "INSERT INTO events (room_id, msg_id, method, created_at, stored_at, rendered, raw)"
        " VALUES (?, ?, 'WebcastChatMessage', 1, 2, ?, x'00')",
        [(to_signed(ROOM), i, orjson.dumps({"i": i})) for i in range(1, 101)],
    )
    conn.commit()
    conn.close()
    async with SQLiteStore(path) as store:
        page = await store.read(ROOM, 40, 10)
        assert [orjson.loads(m.rendered)["i"] for m in page.messages] == list(range(41, 51))
        await asyncio.gather(store.append([rec(500)]), store.read(ROOM, 0, 5))
        assert await store.last_seq(ROOM) == 101
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(SQLITE)
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "events_room_page" in indexes and "events_room_seq" not in indexes
    conn.close()
