"""SQLiteStore's in-memory fast paths: the committed tail cache serves the same pages as SQL
(methods filter, ignores, paging, trimming, concurrent appends, eviction, prune), and cached
token records follow revocations at once."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

import orjson

from dylive.store import JoinedPage, Page, Record, SQLiteStore, UpstreamPosition
from dylive.store.migrations import to_signed
from dylive.store.sqlite.pages import read_page
from dylive.store.tail import ROW_OVERHEAD

ROOM = 6922580638159719176
METHODS = ("WebcastChatMessage", "WebcastGiftMessage", "WebcastRoomUserSeqMessage")
CHAT_GIFT = frozenset(METHODS[:2])


def rec(msg_id: int, room: int = ROOM) -> Record:
    method = METHODS[msg_id % 3]
    body = orjson.dumps({"method": method, "msg_id": msg_id})
    return Record(room, msg_id, method, 1, body, b"")


def shape(page: Page) -> tuple[list[tuple[int, int, bytes]], int, list[str]]:
    return [(m.seq, m.msg_id, m.rendered) for m in page.messages], page.last_seq, page.ignored


async def test_tail_pages_equal_sql_pages(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    rnd = random.Random(3)
    conn = sqlite3.connect(path)
    async with SQLiteStore(path, tail_size=64) as cached:
        await cached.append([rec(i) for i in range(1, 200)])
        await cached.read(ROOM, 0, 10)  # a miss: installs the tail
        assert ROOM in cached.tail.cached
        msg = 200
        for _ in range(60):
            batch = [rec(msg + i) for i in range(rnd.randint(0, 9))]
            msg += len(batch)
            if batch and rnd.random() < 0.3:  # a re-sent message: the batch has a duplicate
                batch.insert(rnd.randrange(len(batch)), rec(rnd.randrange(1, msg)))
            more = [rec(msg + i) for i in range(rnd.randint(0, 3))]  # a second writer
            msg += len(more)
            position = UpstreamPosition(ROOM, "push", f"c{msg}", f"e{msg}", "", msg)
            await asyncio.gather(  # one writer batch: an append with its position, another
                cached.append(batch, position=position if rnd.random() < 0.7 else None),
                cached.append(more),
                cached.read(ROOM, 150, 5),
            )
            last = await cached.last_seq(ROOM)
            for after in (last - 1, last - 7, last - 40, last - 63):
                for methods in (None, CHAT_GIFT, frozenset({"WebcastGiftMessage"})):
                    for limit in (1, 5, 50):
                        got = await cached.read(ROOM, after, limit, methods)
                        want = read_page(conn, to_signed(ROOM), after, limit, methods)
                        assert shape(got) == shape(want), (after, limit, methods)
                        joined = await cached.read_joined(ROOM, after, limit, methods)
                        assert joined == JoinedPage.of(want), (after, limit, methods)
        assert cached.tail.hits > 0
        assert len(cached.tail._rooms[ROOM].rows) <= 64  # trimmed to its size
    conn.close()


async def test_rendered_scan_from_the_tail_equals_sql(tmp_path: Path) -> None:
    """The analytics fold's ``scan(rendered=True)`` is served from the tail when it can (a
    written room is tracked from its first row on, before anyone polls it); the rows are exactly
    what SQL returns (seq, msg_id, method, created_at, rendered), older positions and uncached
    rooms fall back to SQL."""
    async with SQLiteStore(tmp_path / "t.db", tail_size=32) as store:
        await store.append([rec(i) for i in range(1, 101)])
        await store.append([rec(i, room=7) for i in range(1, 11)])
        assert {ROOM, 7} <= store.tail.cached  # a written room is cached from its first row
        assert store.tail.after(7, 0, 100) is not None  # never read, yet in memory
        rows = await store.scan(7, 0, 100, rendered=True)
        assert [r[1] for r in rows] == list(range(1, 11))
        store.tail.clear()
        await store.read(ROOM, 95, 1)  # ROOM back in the tail
        assert await store.scan(7, 0, 100, rendered=True) == rows  # SQL
        last = await store.last_seq(ROOM)
        assert store.tail.after(ROOM, last - 10, 5) is not None  # the fast path is taken
        assert store.tail.after(ROOM, last - 33, 5) is None  # older than the tail: SQL
        for after in (last, last - 1, last - 10, last - 32, last - 33, last - 80, 0):
            for limit in (1, 7, 500):
                got = await store.scan(ROOM, after, limit, rendered=True)
                store.tail.clear()
                want = await store.scan(ROOM, after, limit, rendered=True)  # SQL
                assert got == want, (after, limit)
                assert all(isinstance(row[4], bytes) for row in got)
                await store.read(ROOM, last - 1, 1)  # back in the tail
        assert await store.scan(ROOM, last, 10, rendered=True) == []


async def test_old_reads_fall_back_to_sql_and_rooms_are_evicted(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "t.db", tail_size=16, tail_rooms=2) as store:
        for room in (1, 2, 3):
            await store.append([rec(i, room) for i in range(1, 41)])
            await store.read(room, 0, 1)
        assert store.tail.cached == frozenset({2, 3})  # least recently read room evicted
        misses = store.tail.misses
        page = await store.read(3, 0, 100)  # older than the cached tail: SQL, complete
        assert [m.msg_id for m in page.messages] == list(range(1, 41))
        assert store.tail.misses == misses + 1
        deleted = await store.prune(2**62)
        assert deleted == 120 and store.tail.nbytes == 0  # no pruned row left in memory
        assert store.tail.after(3, 0, 100) is None  # older than the tail now: SQL
        assert (await store.read(3, 0, 100)).messages == []
        await store.append([rec(41, 3)])  # the room's tail goes on from there
        new = await store.last_seq(3)
        assert [m.msg_id for m in store.tail.after(3, new - 1, 10) or []] == [41]
        assert [m.msg_id for m in (await store.read(3, 0, 100)).messages] == [41]


async def test_cached_token_follows_revocation_by_another_connection(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with SQLiteStore(path) as store:
        await store.create_token("a", "d" * 64, 0, 0.0)
        first = await store.token_by_digest("d" * 64)
        assert first is not None and first.active
        assert await store.token_by_digest("d" * 64) == first  # cached
        async with SQLiteStore(path) as other:  # as `dylive token revoke` writes it
            await other.revoke_token("a")
        # the next request reads it again (the change mark moved)
        again = await asyncio.create_task(store.token_by_digest("d" * 64))
        assert again is not None and not again.active


async def test_cached_token_follows_revocation_by_this_store_at_once(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "t.db") as store:
        await store.create_token("a", "d" * 64, 0, 0.0)
        await store.create_token("b", "e" * 64, 0, 0.0)
        assert (await store.token_by_digest("d" * 64)).active  # type: ignore[union-attr]
        await store.token_by_digest("e" * 64)  # the change mark is read
        await store.revoke_token("a")
        again = await store.token_by_digest("d" * 64)  # no new task needed
        assert again is not None and not again.active


async def test_sparse_filter_scans_in_growing_chunks(tmp_path: Path) -> None:
    """SQL path: one gift per 300 rows still fills a page (chunks double from ~limit)."""
    async with SQLiteStore(tmp_path / "t.db", tail_size=0) as store:
        rows = [
            Record(ROOM, i, METHODS[1] if i % 300 == 0 else METHODS[0], 1, b"{}", b"")
            for i in range(1, 3001)
        ]
        await store.append(rows)
        page = await store.read(ROOM, 0, 5, frozenset({METHODS[1]}))
        assert [m.msg_id for m in page.messages] == [300, 600, 900, 1200, 1500]
        assert page.ignored == [METHODS[0]] and page.last_seq == page.messages[-1].seq


async def test_tail_bytes_are_bounded_and_pages_stay_exact(tmp_path: Path) -> None:
    """With many rooms each keeps its share of ``max_bytes`` (at least MIN_ROWS rows); the rows
    above a room's floor are still all there, so pages equal SQL's."""
    path = tmp_path / "t.db"
    budget = 200_000
    conn = sqlite3.connect(path)
    async with SQLiteStore(path, tail_size=256) as store:
        store.tail.max_bytes = budget
        rooms = list(range(1, 21))
        for step in range(12):
            await asyncio.gather(
                *(store.append([rec(step * 100 + i, room) for i in range(20)]) for room in rooms)
            )
        tail = store.tail
        assert set(rooms) <= tail.cached
        assert tail.nbytes == sum(
            len(b) + ROW_OVERHEAD for r in tail._rooms.values() for b in r.bodies
        )
        # shares + the minimum (rows of ~50 bytes of JSON and the per-row overhead)
        assert tail.nbytes <= budget + len(rooms) * tail.MIN_ROWS * (200 + ROW_OVERHEAD)
        for room in rooms:
            kept = tail._rooms[room]
            assert tail.MIN_ROWS <= len(kept.rows) < 240  # trimmed below all it was sent
            last = await store.last_seq(room)
            for after in (kept.floor, last - 3, kept.floor - 1, 0):
                got = await store.read(room, after, 50)
                want = read_page(conn, to_signed(room), after, 50, None)
                assert shape(got) == shape(want), (room, after)
    conn.close()
