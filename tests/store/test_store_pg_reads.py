"""PostgreSQL page reads for the chat endpoint: ``read_joined`` (aggregates read together, or
the tail cache) equals ``read`` joined, for every filter and cursor, on interleaved rooms;
concurrent pages share statements; a failed or cancelled read stays its own."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from dylive.errors import StoreError
from dylive.store import JoinedPage, Record
from dylive.store.postgres import PostgresStore
from dylive.store.postgres.pagewire import Statement

pytestmark = pytest.mark.postgres

ROOM = 6922580638159719176
BIG_ROOM = (1 << 64) - 5  # stored as a negative BIGINT
METHODS = ("WebcastChatMessage", "WebcastGiftMessage", "WebcastLikeMessage")


def rec(msg_id: int, room: int, method: str) -> Record:
    return Record(room, msg_id, method, 7, orjson.dumps({"msg_id": msg_id}), b"raw")


async def test_joined_reads_equal_row_reads(pg_url: str) -> None:
    async with PostgresStore(pg_url, tail_size=8) as store:
        for start in range(1, 600, 100):  # two rooms interleaved, big msg_ids too
            await store.append(
                [rec(i, ROOM, METHODS[i % 5 % 3]) for i in range(start, start + 100)]
                + [rec((1 << 64) - i, BIG_ROOM, METHODS[i % 3]) for i in range(start, start + 50)]
            )
        await store.read(ROOM, 590, 5)  # installs ROOM's tail (8 rows); BIG_ROOM has none
        last = await store.last_seq(ROOM)
        for room in (ROOM, BIG_ROOM):
            for wanted in (None, frozenset(METHODS[:2]), frozenset(METHODS[1:2]), frozenset()):
                for after, limit in ((0, 50), (3, 300), (last - 12, 5), (last - 3, 10), (last, 3)):
                    got = await store.read_joined(room, after, limit, wanted)
                    want = JoinedPage.of(await store.read(room, after, limit, wanted))
                    assert got == want, (room, wanted, after, limit)
                    assert got.size == len(orjson.loads(b"[" + got.body + b"]"))
        assert (await store.read_joined(ROOM, 0, 0)).size == 0


async def test_pages_read_together_equal_pages_read_alone(pg_url: str) -> None:
    """Concurrent chat pages (mixed rooms, method sets and cursors) share statements, and each
    gets the page it would get alone."""
    async with PostgresStore(pg_url, tail_size=0) as store:
        for start in range(1, 600, 100):
            await store.append(
                [rec(i, ROOM, METHODS[i % 5 % 3]) for i in range(start, start + 100)]
                + [rec((1 << 64) - i, BIG_ROOM, METHODS[i % 3]) for i in range(start, start + 50)]
            )
        last = await store.last_seq(ROOM)
        wants = [
            (room, after, limit, wanted)
            for room in (ROOM, BIG_ROOM)
            for wanted in (None, frozenset(METHODS), frozenset(METHODS[1:2]))
            for after, limit in ((0, 50), (3, 300), (last - 12, 5), (last, 3), (77, 1))
        ]
        alone = [await store.read_joined(*want) for want in wants]
        before = store.pages.statements
        together = await asyncio.gather(*(store.read_joined(*want) for want in wants))
        assert list(together) == alone
        # one statement per method set (plus the sparse filter's keyset scans): fewer than pages
        assert store.pages.statements - before <= 2 * 3
        assert store.pages.pages >= 2 * len(wants)


async def test_a_failed_page_statement_fails_its_callers_only(pg_url: str) -> None:
    async with PostgresStore(pg_url, tail_size=0) as store:
        await store.append([rec(i, ROOM, METHODS[0]) for i in range(1, 20)])
        real = store.pages._run
        calls = 0

        async def flaky(sql: str, args: dict[str, object]) -> list[tuple[object, ...]]:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise StoreError("read failed: boom", transient=True)
            return await real(sql, args)

        store.pages._run = flaky
        with pytest.raises(StoreError, match="boom"):
            await store.read_joined(ROOM, 0, 5)
        page = await store.read_joined(ROOM, 0, 5)  # the next statement reads
        assert page.size == 5 and page.last_msg_id == 5


async def test_a_cancelled_reader_leaves_the_others_their_pages(pg_url: str) -> None:
    async with PostgresStore(pg_url, tail_size=0) as store:
        await store.append([rec(i, ROOM, METHODS[0]) for i in range(1, 20)])
        first = asyncio.create_task(store.read_joined(ROOM, 0, 3))
        gone = asyncio.create_task(store.read_joined(ROOM, 3, 3))
        kept = asyncio.create_task(store.read_joined(ROOM, 6, 3))
        await asyncio.sleep(0)  # all three queued
        gone.cancel()
        assert (await first).last_msg_id == 3
        assert (await kept).last_msg_id == 9
        with pytest.raises(asyncio.CancelledError):
            await gone


async def test_method_names_reach_the_page_statement_unchanged(pg_url: str) -> None:
    odd = ('a"b,{c}', "back\\slash", "NULL", "")
    async with PostgresStore(pg_url, tail_size=0) as store:
        await store.append([rec(i, ROOM, odd[i % 4]) for i in range(1, 41)])
        for name in odd:
            page = await store.read_joined(ROOM, 0, 10, frozenset({name}))
            want = JoinedPage.of(await store.read(ROOM, 0, 10, frozenset({name})))
            assert page == want and page.size == 10, name
        page = await store.read_joined(ROOM, 0, 40, frozenset(odd))
        assert page.size == 40 and page.last_msg_id == 40


async def test_closing_the_store_ends_every_waiting_page_read(pg_url: str) -> None:
    store = PostgresStore(pg_url, tail_size=0)
    await store.open()
    await store.append([rec(i, ROOM, METHODS[0]) for i in range(1, 200)])
    reads = [asyncio.create_task(store.read_joined(ROOM, i, 50)) for i in range(40)]
    await asyncio.sleep(0)  # queued, one statement started
    await store.close()
    done = await asyncio.wait_for(asyncio.gather(*reads, return_exceptions=True), 30)
    for result in done:  # a page, or ended by the close: never left waiting
        assert isinstance(result, (JoinedPage, asyncio.CancelledError, StoreError)), result


async def test_page_statements_are_not_planned_again_at_each_execution(pg_url: str) -> None:
    """The page statement's prepared plan is the generic one: under ``plan_cache_mode = auto``
    the server chose a custom plan (planned again) at every execution, the arrays' lengths
    making it look cheaper."""
    async with PostgresStore(pg_url, tail_size=0) as store:
        await store.append([rec(i, ROOM, METHODS[i % 3]) for i in range(1, 200)])
        for after in range(12):  # one at a time: the same page connection (the pool is LIFO)
            assert (await store.read_joined(ROOM, after, 50, frozenset(METHODS[:2]))).size
        plans = Statement(
            b"plans",
            "SELECT coalesce(sum(generic_plans), 0)::bigint, coalesce(sum(custom_plans), 0)::bigint"
            " FROM pg_prepared_statements WHERE name LIKE 'dylive_pages%'",
            (),
        )
        rows = await store._page_wire.run(plans, [])
        generic, custom = rows[0]
        assert custom == 0 and generic >= 5, (generic, custom)


async def test_a_page_connection_the_server_ended_is_replaced(pg_url: str) -> None:
    async with PostgresStore(pg_url, tail_size=0) as store:
        await store.append([rec(i, ROOM, METHODS[0]) for i in range(1, 20)])
        assert (await store.read_joined(ROOM, 0, 5)).last_msg_id == 5
        ended = await store._fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE '%%p.last_seq),%%'"
            " AND pid <> pg_backend_pid()"
        )
        assert ended == [(True,)]
        for after in (5, 10):  # the dead one noticed (or not yet): a fresh one reads
            assert (await store.read_joined(ROOM, after, 5)).last_msg_id == after + 5


async def test_a_page_statement_the_server_refused_leaves_its_connection_usable(
    pg_url: str,
) -> None:
    async with PostgresStore(pg_url, tail_size=0) as store:
        await store.append([rec(i, ROOM, METHODS[0]) for i in range(1, 20)])
        with pytest.raises(StoreError, match="LIMIT must not be negative"):
            await store.pages.page(ROOM, 0, -1, None)
        assert (await store.read_joined(ROOM, 0, 5)).last_msg_id == 5
        assert len(store._page_wire._idle) == 1  # the same connection, kept
