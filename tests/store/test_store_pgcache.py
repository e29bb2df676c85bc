"""PostgreSQL fast paths across processes: the committed-tail cache and the token cache stay
right while another store instance (another node) writes the same database."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from support.waiting import until

from dylive.store import Record
from dylive.store.postgres import PostgresStore

pytestmark = pytest.mark.postgres

ROOM = 6922580638159719176


def rec(msg_id: int, room: int = ROOM) -> Record:
    return Record(room, msg_id, "WebcastChatMessage", 1, orjson.dumps({"m": msg_id}), b"")


async def read_all(store: PostgresStore, after: int = 0) -> list[int]:
    out: list[int] = []
    while True:
        page = await store.read(ROOM, after, 7)
        if not page.messages:
            return out
        out += [m.msg_id for m in page.messages]
        after = page.last_seq


async def test_tail_cache_follows_commits_of_another_node(pg_url: str) -> None:
    async with PostgresStore(pg_url) as a, PostgresStore(pg_url) as b:
        await a.append([rec(i) for i in range(1, 6)])
        assert await read_all(a) == [1, 2, 3, 4, 5]  # installs the room in a's cache
        assert ROOM in a.tail.cache.cached
        for start in (10, 20, 30):  # interleaved writers
            await b.append([rec(start + i) for i in range(3)])
            await a.append([rec(start + 5)])
        expected = [1, 2, 3, 4, 5, 10, 11, 12, 15, 20, 21, 22, 25, 30, 31, 32, 35]

        async def synced() -> bool:
            return a.tail.page(ROOM, 0, 100, None) is not None

        await until(synced, 10)
        hits = a.tail.cache.hits
        assert await read_all(a) == expected  # from memory, and complete
        assert a.tail.cache.hits > hits
        assert await read_all(b) == expected


async def test_a_read_never_misses_rows_heard_of_but_not_yet_cached(pg_url: str) -> None:
    async with PostgresStore(pg_url) as a, PostgresStore(pg_url) as b:
        await a.append([rec(1)])
        first = await a.read(ROOM, 0, 10)
        await b.append([rec(2), rec(3)])
        await until(lambda: _known(a, 3), 10)
        # whether or not the sync ran yet, the page after the first row has both new rows
        page = await a.read(ROOM, first.last_seq, 10)
        assert [m.msg_id for m in page.messages] == [2, 3]


async def test_a_wait_on_a_fresh_cached_room_queries_nothing(pg_url: str) -> None:
    """The long-poll's wait: a room the tail cache holds fresh (listening) is answered from
    memory and woken by the next commit heard of, ours or another node's, without a query of
    the room's last seq; a room not cached is still checked in the database."""
    async with PostgresStore(pg_url) as a, PostgresStore(pg_url) as b:
        await a.append([rec(1)])
        first = await a.read(ROOM, 0, 10)  # installs the room in a's cache
        fresh = lambda: a.tail.joined(ROOM, 0, 1, None) is not None  # noqa: E731
        await until(fresh, 10, what="the room cached and fresh")
        queries: list[int] = []
        last_seq = a.last_seq

        async def counted(room_id: int) -> int:
            queries.append(room_id)
            return await last_seq(room_id)

        a.last_seq = counted  # type: ignore[method-assign]
        waiter = asyncio.create_task(a.wait_for(ROOM, first.last_seq, 30))
        await until(lambda: a.waiting, 10, what="the wait blocks")
        await b.append([rec(2)])  # another node's commit: its notification wakes the wait
        assert await asyncio.wait_for(waiter, 10)
        assert queries == []
        assert not await a.wait_for(ROOM + 1, 0, 0.01)  # not cached: asked of the database
        assert queries and set(queries) == {ROOM + 1}


async def _known(store: PostgresStore, count: int) -> bool:
    return store.tail.known.get(ROOM, 0) > 0 and len(await read_all(store)) == count


async def test_revocation_reaches_the_token_cache_of_every_node(pg_url: str) -> None:
    async with (
        PostgresStore(pg_url, token_ttl=3600) as a,
        PostgresStore(pg_url, token_ttl=3600) as b,
    ):
        await a.create_token("alice", "d" * 64, 0, 0)
        before = await b.token_by_digest("d" * 64)
        assert before is not None and before.active
        assert await b.token_by_digest("e" * 64) is None  # a cached miss
        assert await a.revoke_token("alice") == 1
        await a.create_token("eve", "e" * 64, 0, 0)

        async def seen() -> bool:
            alice = await b.token_by_digest("d" * 64)
            eve = await b.token_by_digest("e" * 64)
            return alice is not None and not alice.active and eve is not None

        await until(seen, 10)  # an hour-long cache: only the notification clears it
