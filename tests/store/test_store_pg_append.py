"""PostgreSQL combined appends: the appends of one writer transaction run as rounds of one
statement each; per-room ordering locks instead of one database-wide lock.

(Commit order vs seq under concurrent writers of one room: test_store_postgres.py.)
"""

from __future__ import annotations

import asyncio

import orjson
import psycopg
import pytest
from support.waiting import until

from dylive.errors import LeaseLost
from dylive.store import Fence, Record, UpstreamPosition
from dylive.store.migrations import to_signed
from dylive.store.postgres import PostgresStore
from dylive.store.postgres.append import Append, lock_key, rounds, schema_salt

pytestmark = pytest.mark.postgres

A, B, C = 7713439806789773866, 2**64 - 5, 7102938475610293847


def rec(msg_id: int, room: int = A) -> Record:
    body = orjson.dumps({"method": "WebcastChatMessage", "msg_id": msg_id})
    return Record(room, msg_id, "WebcastChatMessage", 1, body, b"raw")


def pos(room: int, last: int) -> UpstreamPosition:
    return UpstreamPosition(room, "ws", f"c{last}", f"ext{last}", "wss://push", last, 0)


def append(*rooms: int) -> Append:
    return Append("ch", 0, [rec(1, r) for r in rooms], None, None, rooms[0])


def test_rounds_keep_each_rooms_appends_in_order() -> None:
    a1, b1, ab, a2, c1, b2 = (
        append(A),
        append(B),
        append(A, B),
        append(A),
        append(C),
        append(B),
    )
    assert rounds([a1, b1, ab, a2, c1, b2]) == [[a1, b1, c1], [ab], [a2, b2]]
    # a room's later append never lands before an earlier one that shares a room with it
    b0, ab2, a3 = append(B), append(A, B), append(A)
    assert rounds([b0, ab2, a3]) == [[b0], [ab2], [a3]]


def test_lock_keys_differ_per_room_and_per_schema() -> None:
    salt = schema_salt("dylive")
    keys = {lock_key(salt, r) for r in (A, B, C, 0, 1, 2**64 - 1)}
    assert len(keys) == 6 and all(-(2**63) <= k < 2**63 for k in keys)
    assert lock_key(salt, A) != lock_key(schema_salt("other"), A)


def set_lease(url: str, room: int, owner: str, epoch: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO fleet_rooms (room_id, ident, owner, epoch) VALUES (%s, 'x', %s, %s)"
            " ON CONFLICT (room_id) DO UPDATE SET owner = excluded.owner, epoch = excluded.epoch",
            (to_signed(room), owner, epoch),
        )


async def test_one_batch_of_many_appends_per_room(pg_url: str) -> None:
    """Several appends of the same rooms in one transaction (several rounds): every result,
    seq order, the last position per room, refused fences, duplicates."""
    async with PostgresStore(pg_url) as store:
        set_lease(pg_url, A, "n1", 3)
        set_lease(pg_url, C, "n2", 1)
        await store.append([rec(1, B)])  # the writer is idle now: the gather is one batch
        before = store.batches
        results = await asyncio.gather(
            store.append([rec(10), rec(11)], position=pos(A, 11), fence=Fence("n1", 3)),
            store.append([rec(20, B), rec(1, B)], position=pos(B, 20)),  # 1 is a duplicate
            store.append([rec(12), rec(10)], position=pos(A, 12), fence=Fence("n1", 3)),
            store.append([rec(30, C)], position=pos(C, 30), fence=Fence("n1", 1)),  # not its
            store.append([], position=pos(B, 21)),
            store.append([rec(13)], fence=Fence("n1", 3)),
            return_exceptions=True,
        )
        assert store.batches == before + 1, "not one batch: the test proves nothing"
        assert results[:3] == [2, 1, 1] and results[4:] == [0, 1]
        assert isinstance(results[3], LeaseLost) and results[3].room_id == C
        assert [m.msg_id for m in (await store.read(A, 0, 10)).messages] == [10, 11, 12, 13]
        assert [m.msg_id for m in (await store.read(B, 0, 10)).messages] == [1, 20]
        assert (await store.read(C, 0, 10)).messages == []
        pa, pb = await store.upstream_position(A), await store.upstream_position(B)
        assert pa is not None and pa.last_msg_id == 12 and pa.cursor == "c12"
        assert pb is not None and pb.last_msg_id == 21
        assert await store.upstream_position(C) is None


async def test_a_held_room_lock_stalls_that_room_only(pg_url: str, pg_schema: str) -> None:
    """A transaction holding room A's ordering lock (a paused writer) stalls appends to A until
    it ends; appends to B from another process go on meanwhile."""
    salt = schema_salt(pg_schema)
    async with PostgresStore(pg_url) as one, PostgresStore(pg_url) as two:
        await one.append([rec(1)])
        holder = await psycopg.AsyncConnection.connect(pg_url)
        try:
            await holder.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(salt, A),))
            stalled = asyncio.create_task(one.append([rec(2)]))
            await writer_waits_for_a_lock(one, pg_url, "the append to A waiting for the lock")
            assert await asyncio.wait_for(two.append([rec(5, B)]), 20) == 1
            assert not stalled.done()
            await holder.rollback()
            assert await asyncio.wait_for(stalled, 20) == 1
        finally:
            await holder.close()
        assert [m.msg_id for m in (await two.read(A, 0, 10)).messages] == [1, 2]


async def writer_waits_for_a_lock(store: PostgresStore, url: str, what: str) -> None:
    """Until ``store``'s writer connection waits for an advisory lock (20 s at most)."""
    assert store._wconn is not None
    writer = store._wconn.info.backend_pid
    await until(lambda: waiting_on_advisory_lock(url, writer), 20, what)


async def waiting_on_advisory_lock(url: str, pid: int) -> bool:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as probe:
        cur = await probe.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND pid = %s",
            (pid,),
        )
        row = await cur.fetchone()
    return bool(row and row[0])


async def test_a_writers_lease_lock_stops_takeovers_not_renewals(pg_url: str) -> None:
    """A transaction holding a lease row as the writer does (``FOR KEY SHARE``): a renewal of
    that lease (expiry and stats) goes through at once, a takeover (owner and epoch) waits."""
    async with PostgresStore(pg_url):
        set_lease(pg_url, A, "n1", 1)
    writer = await psycopg.AsyncConnection.connect(pg_url)
    other = await psycopg.AsyncConnection.connect(pg_url)
    try:
        await writer.execute(
            "SELECT 1 FROM fleet_rooms WHERE room_id = %s FOR KEY SHARE", (to_signed(A),)
        )
        await other.execute("SET lock_timeout = '3s'")
        await other.execute(  # the renewal's own statement shape: no wait
            "WITH locked AS (SELECT room_id FROM fleet_rooms WHERE room_id = %s"
            " FOR NO KEY UPDATE)"
            " UPDATE fleet_rooms SET expires_at = expires_at + 1000, lag_ms = 5, rate = 1"
            " WHERE room_id IN (SELECT room_id FROM locked)",
            (to_signed(A),),
        )
        await other.commit()
        with pytest.raises(psycopg.errors.LockNotAvailable):
            await other.execute(
                "UPDATE fleet_rooms SET owner = 'n2', epoch = epoch + 1 WHERE room_id = %s",
                (to_signed(A),),
            )
        await other.rollback()
        with pytest.raises(psycopg.errors.LockNotAvailable):  # a release waits too
            await other.execute(
                "UPDATE fleet_rooms SET owner = '' WHERE room_id = %s", (to_signed(A),)
            )
        await other.rollback()
    finally:
        await writer.close()
        await other.close()


@pytest.mark.parametrize("server_default", ["", "repeatable read", "serializable"])
async def test_a_duplicate_committed_while_waiting_for_the_room_lock_is_skipped(
    pg_url: str, pg_schema: str, server_default: str
) -> None:
    """Duplicates are skipped by an anti-join read after the room's ordering lock is granted
    (no ``ON CONFLICT``): another node's insert of the same msg_id, committed while this append
    waited for the lock, is seen by it (READ COMMITTED: a new snapshot per statement) and
    skipped, without a unique violation; also when the server's default isolation is stricter
    (the writer's connection sets its own; the default given here in the URL's options)."""
    if server_default:  # "-c name=value" in the URL's options, beside the search_path
        pg_url += "%20-cdefault_transaction_isolation%3D" + server_default.replace(" ", "%5C%20")
    salt = schema_salt(pg_schema)
    async with PostgresStore(pg_url) as store:
        await store.append([rec(1)])
        other = await psycopg.AsyncConnection.connect(pg_url)  # another node's writer
        try:
            await other.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(salt, A),))
            await other.execute(
                "INSERT INTO events (room_id, msg_id, method, created_at, stored_at, rendered,"
                " raw) VALUES (%s, 2, 'WebcastChatMessage', 1, 1, '{}', 'raw')",
                (to_signed(A),),
            )
            waiting = asyncio.create_task(store.append([rec(2), rec(3)]))
            await writer_waits_for_a_lock(store, pg_url, "the append waiting for the lock")
            await other.commit()
            assert await asyncio.wait_for(waiting, 20) == 1
        finally:
            await other.close()
        assert [m.msg_id for m in (await store.read(A, 0, 10)).messages] == [1, 2, 3]


async def test_two_nodes_storing_the_same_messages_store_each_once(pg_url: str) -> None:
    """Two stores (two nodes after a takeover race) append the same records of two rooms in
    batches of different sizes at once: each message is stored once, no append fails."""
    async with PostgresStore(pg_url) as one, PostgresStore(pg_url) as two:
        msgs = range(1, 301)

        async def node(store: PostgresStore, size: int) -> int:
            stored = 0
            for start in range(0, len(msgs), size):
                chunk = msgs[start : start + size]
                results = await asyncio.gather(
                    store.append([rec(m) for m in chunk]),
                    store.append([rec(m, B) for m in reversed(chunk)]),
                )
                stored += sum(results)
            return stored

        stored = await asyncio.gather(node(one, 7), node(two, 11))
        assert sum(stored) == 600
        for room in (A, B):
            page = await one.read(room, 0, 1000)
            assert sorted(m.msg_id for m in page.messages) == list(msgs)
