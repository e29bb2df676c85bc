"""SQLite page reads: served from the (room_id, seq) index, started on the event loop thread,
exact across a resumed scan, the chat endpoint's joined pages equal to row pages, and the schema
upgrades from a version-1 database and from the covering page index keep every row."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
from pathlib import Path

import orjson

from dylive.store import JoinedPage, Record, SQLiteStore
from dylive.store.migrations import SQLITE, to_signed
from dylive.store.sqlite.pages import JoinedScan, PageScan, joined_head, read_page

ROOM = 6922580638159719176
BIG_ROOM = (1 << 64) - 5  # stored as a negative BIGINT
PAGE_SQL = (
    "SELECT seq, msg_id, method, created_at, stored_at, rendered FROM events"
    " WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT ?"
)


def rec(msg_id: int, room: int = ROOM, method: str = "WebcastChatMessage") -> Record:
    return Record(room, msg_id, method, 7, orjson.dumps({"msg_id": msg_id}), b"raw")


async def test_page_reads_use_the_room_seq_index(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "p.db") as store:
        await store.append([rec(1)])
    conn = sqlite3.connect(tmp_path / "p.db")
    plan = conn.execute("EXPLAIN QUERY PLAN " + PAGE_SQL, (1, 0, 50)).fetchall()
    conn.close()
    assert "INDEX events_room_seq (room_id=? AND seq>?)" in plan[0][3]


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
        joined_scan = JoinedScan(to_signed(BIG_ROOM), after, limit, wanted)
        joined_scan.step(one)  # the chat endpoint's read, resumed the same way
        assert joined_scan.run(two).page() == JoinedPage.of(whole)
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
    assert "events_room_seq" in indexes and "events_room_page" not in indexes
    conn.close()


async def test_joined_pages_equal_row_pages(tmp_path: Path) -> None:
    """The chat endpoint's page (one aggregate, then row chunks when some rows are skipped)
    equals the row page joined: bytes, count, last seq, last msg_id and ignores, for every
    filter, cursor and page size, on a room whose rows interleave with another room's."""
    path = tmp_path / "p.db"
    rnd = random.Random(5)
    methods = ("WebcastChatMessage", "WebcastGiftMessage", "WebcastLikeMessage", "Odd,Name")
    rows = []
    for i in range(1, 1500):
        room = BIG_ROOM if rnd.random() < 0.8 else ROOM
        method = "WebcastChatMessage" if 600 <= i < 800 else rnd.choice(methods)
        rows.append(rec(rnd.getrandbits(64), room, method))
    async with SQLiteStore(path) as store:
        await store.append(rows)
        last = await store.last_seq(BIG_ROOM)
    conn = sqlite3.connect(path)
    filters = [None, frozenset(), *(frozenset(rnd.sample(methods, k)) for k in (1, 1, 2, 3))]
    at_once = 0  # filtered pages joined_head returned without a scan
    for wanted in filters:
        for after in (0, 1, 17, 590, 650, 799, last - 60, last - 3, last - 1, last, last + 5):
            for limit in (1, 2, 7, 50, 200):
                want = JoinedPage.of(read_page(conn, to_signed(BIG_ROOM), after, limit, wanted))
                got = JoinedScan(to_signed(BIG_ROOM), after, limit, wanted).run(conn).page()
                assert got == want, (wanted, after, limit)
                # the store's loop-thread read: the page itself when its head is the page,
                # else the scan that took the head, finished on (another) connection
                head = joined_head(conn, to_signed(BIG_ROOM), after, limit, wanted)
                if isinstance(head, JoinedScan):
                    head = head.run(conn).page()
                elif wanted:
                    at_once += 1
                assert head == want, (wanted, after, limit)
    conn.close()
    assert at_once >= 50  # the common case (every row of the head wanted) is hit: 73 of 220


async def test_joined_reads_through_the_store(tmp_path: Path) -> None:
    """``read_joined`` equals ``read`` joined: from the tail cache, from SQL on the loop
    thread, and for a large page on a reader thread."""
    async with SQLiteStore(tmp_path / "p.db", tail_size=8) as store:
        methods = ("WebcastChatMessage", "WebcastGiftMessage", "WebcastLikeMessage")
        await store.append([rec(i, ROOM, methods[i % 5 % 3]) for i in range(1, 900)])
        await store.read(ROOM, 890, 5)  # installs the tail
        for wanted in (None, frozenset(methods[:2]), frozenset(methods[1:2])):
            for after, limit in ((0, 50), (3, 300), (880, 5), (895, 10), (899, 3)):
                got = await store.read_joined(ROOM, after, limit, wanted)
                assert got == JoinedPage.of(await store.read(ROOM, after, limit, wanted))


async def test_a_joined_scan_survives_rows_pruned_between_steps(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    async with SQLiteStore(path) as store:
        await store.append([rec(1), rec(2), rec(3, ROOM, "WebcastGiftMessage")])
    conn = sqlite3.connect(path, isolation_level=None)
    scan = JoinedScan(to_signed(ROOM), 0, 3, frozenset({"WebcastChatMessage"}))
    assert not scan.step(conn)  # the head: two wanted rows, the last row not wanted
    conn.execute("DELETE FROM events")  # pruned before the rest of the page is read
    page = scan.run(conn).page()
    assert (page.size, page.last_seq, page.last_msg_id) == (2, 3, 0)
    assert orjson.loads(b"[" + page.body + b"]") == [{"msg_id": 1}, {"msg_id": 2}]
    conn.close()


async def test_upgrade_from_the_covering_index_keeps_pages(tmp_path: Path) -> None:
    """Step 15 on a database of step 14 (the covering index events_room_page): the pages read
    the same rows, the index is replaced, and the writer's secure_delete is FAST after the step
    too (the engine's setting, restored by name: the number 2 would read as ON)."""
    path = tmp_path / "v14.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for script in SQLITE[:14]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version=14")
    conn.executemany(
        "INSERT INTO events (room_id, msg_id, method, created_at, stored_at, rendered, raw)"
        " VALUES (?, ?, 'WebcastChatMessage', 1, 2, ?, x'00')",
        [(to_signed(ROOM + i % 3), i, orjson.dumps({"i": i})) for i in range(1, 301)],
    )
    conn.close()
    async with SQLiteStore(path) as store:
        page = await store.read(ROOM + 1, 0, 50)
        assert [orjson.loads(m.rendered)["i"] for m in page.messages] == list(range(1, 151, 3))
        joined = await store.read_joined(ROOM + 1, 0, 50)
        assert joined == JoinedPage.of(page)
        assert store._wconn is not None
        assert store._wconn.execute("PRAGMA secure_delete").fetchone()[0] == 2  # FAST
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(SQLITE) >= 16
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"events_room_seq", "events_msg_room"} <= indexes
    assert not {"events_room_page", "events_room_msg"} & indexes
    conn.close()
    async with SQLiteStore(path) as store:  # the same (room, msg_id) is still stored once
        assert await store.append([rec(4, room=ROOM + 1), rec(4, room=ROOM)]) == 1
