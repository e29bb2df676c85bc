"""Contract tests, on both backends, for the interface methods the other store suites leave out:
EventLog's scan / scan_columns / read_joined / room_heads / on_commit and the Sessions interface.

Like ``test_store_contract``: each test gets a factory opening a fresh store of the backend
under test (calling it again opens the same database).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

import orjson
import pytest

from dylive.store import (
    ColumnsPage,
    EventLog,
    EventStore,
    Identities,
    JoinedPage,
    Outbox,
    Positions,
    Record,
    Rooms,
    SessionRecord,
    Sessions,
    Tokens,
    is_postgres_url,
    open_store,
)

BIG = 2**63 + 12345  # beyond signed 64 bits
ROOM = 6922580638159719176
CHAT = "WebcastChatMessage"
GIFT = "WebcastGiftMessage"

Factory = Callable[[], EventStore]


@pytest.fixture
def make(store_url: str) -> Factory:
    return functools.partial(open_store, store_url)


def rec(msg_id: int, method: str = CHAT, room: int = ROOM) -> Record:
    body = orjson.dumps({"method": method, "msg_id": msg_id})
    return Record(room, msg_id, method, msg_id % 100_000, body, b"raw%d" % msg_id)


async def test_the_store_is_every_narrow_interface(make: Factory) -> None:
    store = make()
    for interface in (EventLog, Rooms, Tokens, Positions, Outbox, Sessions, Identities):
        assert isinstance(store, interface), interface


async def test_scan_returns_raw_or_rendered_rows_in_seq_order(make: Factory) -> None:
    async with make() as store:
        await store.append([rec(5), rec(BIG, GIFT), rec(7)])
        await store.append([rec(1, room=ROOM + 1)])
        raw = await store.scan(ROOM, 0, 10)
        assert [(r[1], r[2], r[3], r[4]) for r in raw] == [
            (5, CHAT, 5, b"raw5"),
            (BIG, GIFT, BIG % 100_000, b"raw%d" % BIG),
            (7, CHAT, 7, b"raw7"),
        ]
        seqs = [r[0] for r in raw]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3
        rendered = await store.scan(ROOM, 0, 10, rendered=True)
        assert [r[4] for r in rendered] == [
            rec(5).rendered,
            rec(BIG, GIFT).rendered,
            rec(7).rendered,
        ]
        assert [r[:4] for r in rendered] == [r[:4] for r in raw]
        assert await store.scan(ROOM, seqs[0], 1) == raw[1:2]
        assert await store.scan(ROOM, seqs[0], 1, rendered=True) == rendered[1:2]
        assert await store.scan(ROOM, seqs[-1], 10) == []
        assert await store.scan(ROOM + 2, 0, 10) == []


async def test_scan_columns_are_the_rendered_rows_in_two_blocks(make: Factory) -> None:
    odd = 'Webcast"Odd\\Method\n'  # needs escaping inside a JSON string
    async with make() as store:
        await store.append([rec(5), rec(BIG, GIFT), rec(7, odd), rec(9)])
        await store.append([rec(1, room=ROOM + 1)])
        rows = await store.scan(ROOM, 0, 10, rendered=True)
        page = await store.scan_columns(ROOM, 0, 3)
        assert (page.size, page.last_seq) == (3, rows[2][0])
        assert (
            orjson.loads(page.columns)
            == {
                "seq": [r[0] for r in rows[:3]],
                "msg_id": [5, BIG, 7],  # exact, unsigned
                "method": [CHAT, GIFT, odd],
                "created_at": [r[3] for r in rows[:3]],
            }
        )
        assert page.rendered == b"\n".join(r[4] for r in rows[:3])
        rest = await store.scan_columns(ROOM, page.last_seq, 10)
        assert (rest.size, rest.last_seq, rest.rendered) == (1, rows[3][0], rows[3][4])
        assert orjson.loads(rest.columns)["seq"] == [rows[3][0]]
        assert await store.scan_columns(ROOM, rows[3][0], 10) == ColumnsPage(0, 0, b"", b"")
        assert await store.scan_columns(ROOM + 2, 0, 10) == ColumnsPage(0, 0, b"", b"")


async def test_read_joined_is_the_read_page_joined(make: Factory) -> None:
    async with make() as store:
        methods = [CHAT, CHAT, GIFT, CHAT, GIFT, GIFT, CHAT, "WebcastLikeMessage", CHAT]
        await store.append([rec(i + 1, m) for i, m in enumerate(methods)])
        last = await store.last_seq(ROOM)
        for wanted in (None, frozenset({CHAT}), frozenset({GIFT}), frozenset({"Nothing"})):
            for after in (0, last - 5, last - 1, last):
                for limit in (1, 3, 100):
                    page = await store.read(ROOM, after, limit, wanted)
                    joined = await store.read_joined(ROOM, after, limit, wanted)
                    expected = JoinedPage.of(page)
                    assert (joined.size, joined.body, joined.last_seq, joined.last_msg_id) == (
                        expected.size,
                        expected.body,
                        expected.last_seq,
                        expected.last_msg_id,
                    ), (wanted, after, limit)
                    assert set(joined.ignored) == set(expected.ignored), (wanted, after, limit)
        empty = await store.read_joined(ROOM + 1, 0, 10)
        assert (empty.size, empty.body, empty.last_seq) == (0, b"", 0)


async def test_room_heads_lists_each_room_with_its_newest_seq(make: Factory) -> None:
    async with make() as store:
        assert await store.room_heads() == {}
        await store.append([rec(1), rec(2, room=BIG)])
        await store.append([rec(3), rec(4, room=ROOM + 1)])
        heads = await store.room_heads()
        assert heads == {
            ROOM: await store.last_seq(ROOM),
            BIG: await store.last_seq(BIG),
            ROOM + 1: await store.last_seq(ROOM + 1),
        }
        assert heads[ROOM] > heads[BIG]
    async with make() as again:  # from the database, not only from this process's memory
        assert await again.room_heads() == heads


async def test_on_commit_reports_other_processes_commits_where_shared(
    make: Factory, store_url: str
) -> None:
    """PostgreSQL (shared by processes) calls back with the room another store committed to;
    SQLite (one process) documents on_commit as a no-op and never calls back."""
    calls: list[int] = []
    heard = asyncio.Event()

    def callback(room_id: int) -> None:
        calls.append(room_id)
        if room_id == BIG:
            heard.set()

    async with make() as watcher, make() as writer:
        watcher.on_commit(callback)
        await writer.append([rec(1, room=BIG)])
        await watcher.append([rec(2)])
        if is_postgres_url(store_url):
            await asyncio.wait_for(heard.wait(), 10)  # fails (TimeoutError) if never called
        else:
            assert await watcher.wait_for(ROOM, 0, 1.0)
            assert calls == []


async def test_sessions_open_once_save_by_compare_and_set_and_list(make: Factory) -> None:
    async with make() as store:
        first = await store.open_session(
            SessionRecord(0, ROOM, web_rid="w1", title="t", anchor="a", started_at=5)
        )
        assert first.id > 0 and (first.room_id, first.web_rid, first.title) == (ROOM, "w1", "t")
        assert (first.anchor, first.started_at, first.last_seq, first.state) == ("a", 5, 0, b"")
        assert first.updated_at > 0
        again = await store.open_session(SessionRecord(0, ROOM, web_rid="w1", title="other"))
        assert again == first  # present: not inserted twice, not overwritten
        other = await store.open_session(SessionRecord(0, BIG, web_rid="w1", started_at=9))

        moved = SessionRecord(
            first.id, ROOM, "w1", "t2", "a", 5, ended_at=20, last_seq=7, state=b"s", report=b"r"
        )
        assert await store.save_session(moved, expected_seq=0) is True
        assert await store.save_session(moved, expected_seq=0) is False  # moved on meanwhile
        got = await store.get_session(session_id=first.id)
        assert got is not None and got == await store.get_session(room_id=ROOM)
        assert (got.title, got.ended_at, got.last_seq, got.state, got.report) == (
            "t2",
            20,
            7,
            b"s",
            b"r",
        )
        assert await store.get_session(room_id=ROOM + 1) is None
        assert await store.get_session(session_id=other.id + 100) is None

        listed = await store.list_sessions(web_rid="w1")
        assert [s.id for s in listed] == [other.id, first.id]  # newest first
        assert listed[1].state == b"" and listed[1].report == b"" and listed[1].last_seq == 7
        assert [s.id for s in await store.list_sessions(room_id=BIG)] == [other.id]
        assert await store.list_sessions(web_rid="nope") == []
    async with make() as reopened:  # durable
        kept = await reopened.get_session(room_id=ROOM)
        assert kept is not None and kept.state == b"s" and kept.last_seq == 7
