"""One behavioural suite over every EventStore backend: SQLite and PostgreSQL behave the same.

Each test gets a factory that opens a fresh, empty store (a new SQLite file, or a new
PostgreSQL schema dropped afterwards); calling it again opens the same database (reopen).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from dataclasses import replace

import orjson
import pytest

from dylive.errors import StoreError
from dylive.store import (
    EventStore,
    Record,
    RoomRecord,
    TokenNameTaken,
    UpstreamPosition,
    open_store,
)

BIG = 2**63 + 12345  # beyond signed 64 bits
MAX = 2**64 - 1
ROOM = 6922580638159719176
CHAT = "WebcastChatMessage"
GIFT = "WebcastGiftMessage"

Factory = Callable[[], EventStore]


@pytest.fixture
def make(store_url: str) -> Factory:
    """Opens a store of the backend under test (SQLite file, then a PostgreSQL schema)."""
    return functools.partial(open_store, store_url)


def rec(msg_id: int, method: str = CHAT, room: int = ROOM) -> Record:
    body = orjson.dumps({"method": method, "msg_id": msg_id, "payload": {"room_id": room}})
    return Record(room, msg_id, method, 1, body, b"raw%d" % msg_id)


async def test_append_dedupes_and_reads_in_order(make: Factory) -> None:
    async with make() as store:
        assert await store.append([rec(5), rec(3), rec(BIG), rec(MAX)]) == 4
        assert await store.append([rec(3), rec(7), rec(MAX)]) == 1
        page = await store.read(ROOM, 0, 10)
        assert [m.msg_id for m in page.messages] == [5, 3, BIG, MAX, 7]
        seqs = [m.seq for m in page.messages]
        assert seqs == sorted(seqs) and len(set(seqs)) == 5
        assert orjson.loads(page.messages[2].rendered)["msg_id"] == BIG
        assert page.messages[3].rendered == rec(MAX).rendered
        assert all(m.room_id == ROOM and m.method == CHAT for m in page.messages)
        assert page.last_seq == seqs[-1] == await store.last_seq(ROOM)
        nxt = await store.read(ROOM, seqs[1], 2)
        assert [m.msg_id for m in nxt.messages] == [BIG, MAX]
        assert nxt.last_seq == seqs[3]
        assert (await store.read(ROOM, page.last_seq, 10)).messages == []
        assert (await store.read(ROOM + 1, 0, 10)).messages == []
        assert (await store.read(ROOM, 0, 0)).messages == []
        assert await store.last_seq(ROOM + 1) == 0


async def test_duplicates_inside_one_batch_count_once(make: Factory) -> None:
    async with make() as store:
        assert await store.append([rec(1), rec(1), rec(2), rec(1)]) == 2
        assert [m.msg_id for m in (await store.read(ROOM, 0, 10)).messages] == [1, 2]


async def test_room_ids_beyond_signed_range_are_separate_rooms(make: Factory) -> None:
    rooms = [BIG, MAX, 1, 2**63 - 1]
    async with make() as store:
        await store.append([rec(100 + i, room=r) for i, r in enumerate(rooms)])
        await store.append([rec(100, room=MAX)])  # same msg_id, another room: not a duplicate
        for i, room in enumerate(rooms):
            msgs = (await store.read(room, 0, 10)).messages
            want = [100 + i, 100] if room == MAX else [100 + i]
            assert [m.msg_id for m in msgs] == want
            assert {m.room_id for m in msgs} == {room}
        assert await store.last_seq(MAX) > await store.last_seq(2**63 - 1)


async def test_seq_is_store_wide_and_rooms_are_isolated(make: Factory) -> None:
    async with make() as store:
        for i in range(6):
            await store.append([rec(i, room=ROOM + i % 2)])
        a = (await store.read(ROOM, 0, 10)).messages
        b = (await store.read(ROOM + 1, 0, 10)).messages
        assert [m.msg_id for m in a] == [0, 2, 4] and [m.msg_id for m in b] == [1, 3, 5]
        merged = sorted([*a, *b], key=lambda m: m.seq)
        assert [m.msg_id for m in merged] == list(range(6))


async def test_methods_filter_lists_ignores(make: Factory) -> None:
    async with make() as store:
        await store.append(
            [rec(1), rec(2, "WebcastRoomUserSeqMessage"), rec(3), rec(4, "WebcastRoomMessage")]
        )
        page = await store.read(ROOM, 0, 10, frozenset({CHAT}))
        assert [m.msg_id for m in page.messages] == [1, 3]
        assert page.ignored == ["WebcastRoomUserSeqMessage", "WebcastRoomMessage"]
        assert page.last_seq == await store.last_seq(ROOM)
        first = await store.read(ROOM, 0, 1, frozenset({CHAT}))
        assert [m.msg_id for m in first.messages] == [1] and first.ignored == []
        second = await store.read(ROOM, first.last_seq, 1, frozenset({CHAT}))
        assert [m.msg_id for m in second.messages] == [3]
        assert second.ignored == ["WebcastRoomUserSeqMessage"]


async def test_methods_filter_scans_past_long_runs_of_other_methods(make: Factory) -> None:
    async with make() as store:
        await store.append([rec(i, "WebcastLikeMessage") for i in range(450)])
        await store.append([rec(1000, GIFT)])
        page = await store.read(ROOM, 0, 5, frozenset({GIFT}))
        assert [m.msg_id for m in page.messages] == [1000]
        assert page.ignored == ["WebcastLikeMessage"]
        assert page.last_seq == await store.last_seq(ROOM)


async def test_backlog_start(make: Factory) -> None:
    async with make() as store:
        await store.append([rec(i) for i in range(1, 11)])
        start = await store.backlog_start(ROOM, 3)
        page = await store.read(ROOM, start, 50)
        assert [m.msg_id for m in page.messages] == [8, 9, 10]
        assert await store.backlog_start(ROOM, 50) == 0
        assert await store.backlog_start(ROOM, 0) == await store.last_seq(ROOM)
        assert await store.backlog_start(ROOM + 1, 3) == 0


async def test_backlog_start_counts_only_the_wanted_methods(make: Factory) -> None:
    async with make() as store:
        like = "WebcastLikeMessage"
        await store.append([rec(1), rec(2), rec(3)] + [rec(i, like) for i in range(4, 30)])
        chat_only = frozenset({CHAT})
        start = await store.backlog_start(ROOM, 2, chat_only)
        page = await store.read(ROOM, start, 2, chat_only)
        assert [m.msg_id for m in page.messages] == [2, 3]
        assert await store.backlog_start(ROOM, 3, chat_only) == 0  # fewer: from the start
        start = await store.backlog_start(ROOM, 2, frozenset({like, "WebcastGiftMessage"}))
        assert [m.msg_id for m in (await store.read(ROOM, start, 9)).messages] == [28, 29]


async def test_wait_for(make: Factory) -> None:
    async with make() as store:
        assert not await store.wait_for(ROOM, 0, 0.01)
        waiter = asyncio.create_task(store.wait_for(ROOM, 0, 10))
        other = asyncio.create_task(store.wait_for(ROOM + 1, 0, 0.3))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await store.append([rec(1)])
        assert await asyncio.wait_for(waiter, 5)
        assert not await other  # another room's append does not satisfy it
        last = await store.last_seq(ROOM)
        assert await store.wait_for(ROOM, last - 1, 0)  # already there
        assert not await store.wait_for(ROOM, last, 0.02)


async def test_concurrent_appends_are_all_stored_once_in_seq_order(make: Factory) -> None:
    async with make() as store:

        async def writer(w: int) -> None:
            for i in range(20):
                await store.append([rec(w * 1000 + i * 2), rec(w * 1000 + i * 2 + 1)])

        await asyncio.gather(*(writer(w) for w in range(8)))
        msgs, after = [], 0
        while page := (await store.read(ROOM, after, 33)).messages:
            msgs.extend(page)
            after = page[-1].seq
        ids = [m.msg_id for m in msgs]
        assert sorted(ids) == sorted(w * 1000 + i for w in range(8) for i in range(40))
        for w in range(8):  # each writer's messages in its own order
            mine = [i for i in ids if i // 1000 == w]
            assert mine == sorted(mine)


async def test_reopen_keeps_everything_and_seq_grows(make: Factory) -> None:
    async with make() as store:
        await store.append([rec(1), rec(2)])
        tid = await store.create_token("alice", "d" * 64, 2, 5.0)
        await store.set_position(tid, ROOM, 2, wait=True)
        await store.set_position(tid, ROOM, 1, wait=True)  # never moves back
        await store.set_position(tid, BIG, 9, wait=False)  # coalesced, flushed by close
        await store.upsert_room(RoomRecord(ROOM, web_rid="615189692839", status=2, title="t"))
        await store.set_pin("615189692839", True)
        await store.set_pin("615189692839", True)
        first_last = await store.last_seq(ROOM)
    async with make() as store:
        assert await store.last_seq(ROOM) == first_last
        await store.append([rec(3), rec(2)])
        assert await store.last_seq(ROOM) > first_last
        assert [m.msg_id for m in (await store.read(ROOM, 0, 9)).messages] == [1, 2, 3]
        token = await store.token_by_digest("d" * 64)
        assert token is not None and token.name == "alice" and token.room_limit == 2
        assert token.rate == 5.0 and token.active and token.id == tid
        assert await store.get_position(token.id, ROOM) == 2
        assert await store.get_position(token.id, BIG) == 9
        assert await store.get_position(token.id, ROOM + 1) is None
        room = await store.find_room(web_rid="615189692839")
        assert room is not None and room.room_id == ROOM and room.title == "t"
        assert (await store.find_room(room_id=ROOM)) == room
        assert await store.pins() == ["615189692839"]
        await store.set_pin("615189692839", False)
        assert await store.pins() == []


async def test_positions_only_move_forward(make: Factory) -> None:
    async with make() as store:
        await store.set_position(1, ROOM, 10, wait=False)
        await store.set_position(1, ROOM, 4, wait=False)
        assert await store.get_position(1, ROOM) == 10
        await store.set_position(1, ROOM, 7, wait=True)
        assert await store.get_position(1, ROOM) == 10
        await store.set_position(1, ROOM, 12, wait=True)
        await store.set_position(2, ROOM, 3, wait=True)
        assert await store.get_position(1, ROOM) == 12
        assert await store.get_position(2, ROOM) == 3


async def test_tokens(make: Factory) -> None:
    async with make() as store:
        a = await store.create_token("alice", "a" * 64, 0, 0.0)
        b = await store.create_token("bob", "b" * 64, 3, 1.5)
        assert b > a
        assert [t.name for t in await store.list_tokens()] == ["alice", "bob"]
        assert await store.token_by_digest("c" * 64) is None
        with pytest.raises(StoreError):
            await store.create_token("again", "a" * 64, 0, 0.0)  # digest is unique
        assert await store.revoke_token(str(b)) == 0  # a str is a name, never an id
        assert await store.revoke_token(b) == 1  # by id
        assert await store.revoke_token("bob") == 0  # already revoked
        assert await store.revoke_token("nobody") == 0
        bob = await store.token_by_digest("b" * 64)
        assert bob is not None and not bob.active and bob.revoked_at > 0
        alice = await store.token_by_digest("a" * 64)
        assert alice is not None and alice.active


async def test_token_names_are_unique_among_active_tokens(make: Factory) -> None:
    async with make() as store:
        first = await store.create_token("alice", "a" * 64, 0, 0.0)
        with pytest.raises(TokenNameTaken, match=f"id {first}"):
            await store.create_token("alice", "b" * 64, 0, 0.0)
        assert [t.name for t in await store.list_tokens()] == ["alice"]
        assert await store.revoke_token("alice") == 1
        again = await store.create_token("alice", "c" * 64, 0, 0.0)  # the name is free again
        assert await store.revoke_token("alice") == 1  # only the active one
        assert [(t.id, t.active) for t in await store.list_tokens()] == [
            (first, False),
            (again, False),
        ]


async def test_one_failing_write_does_not_fail_the_others(make: Factory) -> None:
    async with make() as store:
        await store.create_token("alice", "a" * 64, 0, 0.0)
        results = await asyncio.gather(
            store.append([rec(1)]),
            store.create_token("dup", "a" * 64, 0, 0.0),
            store.append([rec(2)]),
            store.set_pin("x", True),
            return_exceptions=True,
        )
        assert results[0] == 1 and results[2] == 1 and results[3] is None
        assert isinstance(results[1], StoreError)
        assert [m.msg_id for m in (await store.read(ROOM, 0, 9)).messages] == [1, 2]
        assert await store.pins() == ["x"]


async def test_rooms_upsert_and_latest_broadcast_of_a_web_rid(make: Factory) -> None:
    async with make() as store:
        assert await store.find_room(room_id=ROOM) is None
        assert await store.find_room(web_rid="615189692839") is None
        await store.upsert_room(RoomRecord(ROOM, web_rid="615189692839", updated_at=1000))
        await store.upsert_room(RoomRecord(BIG, web_rid="615189692839", updated_at=2000))
        latest = await store.find_room(web_rid="615189692839")
        assert latest is not None and latest.room_id == BIG
        full = RoomRecord(ROOM, "615189692839", 4, MAX, "MS4w", "主播", "标题", 3000)
        await store.upsert_room(full)  # replaces: now the latest broadcast
        assert await store.find_room(room_id=ROOM) == full
        assert await store.find_room(web_rid="615189692839") == full
        stamped = await store.find_room(room_id=BIG)
        assert stamped is not None and stamped.updated_at == 2000


async def test_prune_by_age_keeps_seq_monotonic(make: Factory) -> None:
    async with make() as store:
        await store.append([rec(1), rec(2)])
        last = await store.last_seq(ROOM)
        await asyncio.sleep(0.01)
        cutoff = time.time_ns() // 1_000_000
        await asyncio.sleep(0.01)
        await store.append([rec(3)])
        assert await store.prune(cutoff) == 2
        assert [m.msg_id for m in (await store.read(ROOM, 0, 10)).messages] == [3]
        assert await store.prune(cutoff) == 0
        assert await store.prune(2**62) == 1
        assert (await store.read(ROOM, 0, 10)).messages == []
        await store.append([rec(4)])
        page = await store.read(ROOM, 0, 10)
        assert [m.msg_id for m in page.messages] == [4]
        assert page.messages[0].seq > last


async def test_messages_of_returns_raw(make: Factory) -> None:
    async with make() as store:
        await store.append([rec(1, GIFT), rec(2), rec(BIG, GIFT), rec(4, "WebcastRoomRankMessage")])
        rows = await store.messages_of(ROOM, [GIFT, "WebcastRoomRankMessage"], 0)
        assert [(i, m, r) for _, i, m, r in rows] == [
            (1, GIFT, b"raw1"),
            (BIG, GIFT, b"raw%d" % BIG),
            (4, "WebcastRoomRankMessage", b"raw4"),
        ]
        after = await store.messages_of(ROOM, [GIFT], rows[0][0])
        assert [i for _, i, _, _ in after] == [BIG]
        assert await store.messages_of(ROOM, [], 0) == []


async def test_closed_store_refuses_writes(make: Factory) -> None:
    store = make()
    with pytest.raises(StoreError):
        await store.append([rec(1)])
    async with store:
        assert await store.append([rec(1)]) == 1


async def test_upstream_position_is_stored_with_its_batch(make: Factory) -> None:
    pos = UpstreamPosition(ROOM, "push", "c1", "seq:10", "ws://h/push", MAX)
    async with make() as store:
        assert await store.upstream_position(ROOM) is None
        assert await store.append([rec(1), rec(2)], position=pos) == 2
        got = await store.upstream_position(ROOM)
        assert got is not None and got.updated_at > 0
        assert replace(got, updated_at=0) == pos
        later = replace(pos, transport="poll", cursor="c2", internal_ext="seq:12", last_msg_id=2)
        assert await store.append([], position=later) == 0  # a position alone is stored too
        assert replace(await store.upstream_position(ROOM), updated_at=0) == later  # type: ignore[arg-type]
        assert await store.upstream_position(ROOM + 1) is None
    async with make() as store:  # durable: reopened, the position is there
        got = await store.upstream_position(ROOM)
        assert got is not None and got.cursor == "c2" and got.last_msg_id == 2


async def test_a_refused_batch_stores_neither_records_nor_position(make: Factory) -> None:
    """Atomic: the record overflowing the database's int64 fails the batch and its position."""
    first = UpstreamPosition(ROOM, "poll", "c1", "seq:1")
    poison = Record(ROOM, 3, CHAT, 2**64 - 1, b"{}", b"\x0a\x0b")
    async with make() as store:
        await store.append([rec(1)], position=first)
        with pytest.raises(StoreError) as info:
            await store.append(
                [rec(2), poison, rec(4)], position=UpstreamPosition(ROOM, "poll", "c2", "seq:4")
            )
        assert info.value.transient is False  # the data, not the database: no retry helps
        assert [m.msg_id for m in (await store.read(ROOM, 0, 9)).messages] == [1]
        got = await store.upstream_position(ROOM)
        assert got is not None and got.cursor == "c1"
        assert await store.append([rec(2), rec(4)]) == 2  # the store still works


async def test_quarantine_keeps_the_raw_bytes_and_the_error(make: Factory) -> None:
    poison = Record(ROOM, MAX, "WebcastLiveShoppingMessage", 2**64 - 1, b"", b"\x0a\x0b\xff")
    async with make() as store:
        await store.quarantine(poison, "integer overflow")
        await store.quarantine(rec(5), "second")
        got = await store.quarantined(ROOM)
        assert [(q.msg_id, q.error) for q in got] == [(5, "second"), (MAX, "integer overflow")]
        assert got[1].raw == b"\x0a\x0b\xff" and got[1].method == "WebcastLiveShoppingMessage"
        assert got[1].room_id == ROOM and got[1].stored_at > 0
        assert await store.quarantined(ROOM, limit=1) == got[:1]
        assert await store.quarantined(ROOM + 1) == []
        assert (await store.read(ROOM, 0, 9)).messages == []


async def test_identities_round_trip(make: Factory) -> None:
    from dylive.store import IdentityRecord

    store = make()
    async with store:
        await store.save_identity(IdentityRecord("b", "sessionid=2", proxy="socks5://p:1"))
        await store.save_identity(IdentityRecord("a", "sessionid=1", user_agent="UA", max_rooms=3))
        await store.save_identity(IdentityRecord("a", "sessionid=9", user_agent="UA", max_rooms=4))
        got = await store.identities()
        assert [(r.name, r.cookie, r.max_rooms) for r in got] == [
            ("a", "sessionid=9", 4),
            ("b", "sessionid=2", 0),
        ]
        assert got[1].proxy == "socks5://p:1" and got[0].created_at > 0 and got[0].state == "ok"
        await store.set_identity_state("b", state="cooling", cooldown_until=5, strikes=2, note="x")
        assert await store.remove_identity("a") == 1
        assert await store.remove_identity("a") == 0
    async with make() as again:  # durable
        (b,) = await again.identities()
    assert (b.state, b.cooldown_until, b.strikes, b.note) == ("cooling", 5, 2, "x")
