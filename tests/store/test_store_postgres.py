"""PostgresStore specifics: id mapping on disk, migrations, several processes on one database
(NOTIFY wake-ups, commit-ordered seq), lost connections, connection errors.

The shared behaviour (same as SQLite) is in test_store_contract.py.
"""

from __future__ import annotations

import asyncio
import sys
import uuid

import orjson
import psycopg
import pytest

from dylive.errors import StoreError
from dylive.store import Record, RoomRecord, open_store
from dylive.store.migrations import POSTGRES
from dylive.store.postgres import PostgresStore, redact

pytestmark = pytest.mark.postgres

ROOM = 7713439806789773866
BIG = 2**64 - 2


def rec(msg_id: int, room: int = ROOM) -> Record:
    body = orjson.dumps({"method": "WebcastChatMessage", "msg_id": msg_id})
    return Record(room, msg_id, "WebcastChatMessage", 1, body, b"\x00raw\xff")


async def test_open_store_picks_postgres_for_urls(pg_url: str) -> None:
    assert isinstance(open_store(pg_url), PostgresStore)
    assert isinstance(open_store(pg_url.replace("postgresql://", "postgres://")), PostgresStore)


async def test_unsigned_ids_use_the_documented_signed_mapping(
    pg_url: str, pg_schema: str, pg_admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    async with PostgresStore(pg_url) as store:
        await store.append([rec(BIG, room=BIG), rec(2**63), rec(2**63 - 1)])
        await store.upsert_room(RoomRecord(BIG, web_rid="x", anchor_uid=2**63))
        msgs = (await store.read(BIG, 0, 5)).messages
        assert [(m.room_id, m.msg_id) for m in msgs] == [(BIG, BIG)]
        assert [m.msg_id for m in (await store.read(ROOM, 0, 5)).messages] == [2**63, 2**63 - 1]
    rows = pg_admin.execute(
        f"SELECT room_id, msg_id, raw FROM {pg_schema}.events ORDER BY seq"
    ).fetchall()
    assert rows == [
        (-2, -2, b"\x00raw\xff"),  # 2^64 - 2 → -2
        (ROOM, -(2**63), b"\x00raw\xff"),  # 2^63 → -2^63
        (ROOM, 2**63 - 1, b"\x00raw\xff"),  # identity below 2^63
    ]
    assert pg_admin.execute(f"SELECT anchor_uid FROM {pg_schema}.rooms").fetchall() == [(-(2**63),)]


async def test_migrations_are_recorded_and_applied_once(
    pg_url: str, pg_schema: str, pg_admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    stores = [PostgresStore(pg_url) for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))  # racing openers: one migrates
    try:
        await stores[0].append([rec(1)])
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    async with PostgresStore(pg_url) as store:
        assert [m.msg_id for m in (await store.read(ROOM, 0, 5)).messages] == [1]
    versions = pg_admin.execute(f"SELECT version FROM {pg_schema}.dylive_schema").fetchall()
    assert versions == [(n,) for n in range(1, len(POSTGRES) + 1)]


APPEND_SCRIPT = """
import asyncio, sys
from dylive.store import Record, open_store

async def main() -> None:
    async with open_store(sys.argv[1]) as store:
        await store.append([Record(int(sys.argv[2]), 42, "WebcastChatMessage", 1, b"{}", b"")])

asyncio.run(main())
"""


async def test_wait_for_wakes_on_an_append_by_another_process(pg_url: str) -> None:
    async with PostgresStore(pg_url) as store:
        waiter = asyncio.create_task(store.wait_for(ROOM, 0, 60))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", APPEND_SCRIPT, pg_url, str(ROOM)
        )
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        # far sooner than the waiter's own 60 s timeout: woken by NOTIFY
        assert await asyncio.wait_for(waiter, 10)
        assert [m.msg_id for m in (await store.read(ROOM, 0, 5)).messages] == [42]


async def test_concurrent_writers_never_let_a_keyset_reader_skip_a_row(pg_url: str) -> None:
    """Four stores (as four processes would) append while a fifth tails with ``seq > last``.

    Without commit-ordered seq a row whose transaction commits after a higher seq is visible
    gets skipped by the reader (this test then times out waiting for it).
    """
    writers, per_writer = 4, 200
    stores = [PostgresStore(pg_url) for _ in range(writers + 1)]
    await asyncio.gather(*(s.open() for s in stores))
    reader = stores[-1]

    async def write(store: PostgresStore, base: int) -> None:
        for i in range(per_writer):
            await store.append([rec(base + i)])

    async def tail() -> list[int]:
        seen: list[int] = []
        after = 0
        while len(seen) < writers * per_writer:
            page = await reader.read(ROOM, after, 50)
            seen.extend(m.msg_id for m in page.messages)
            after = page.last_seq
            if not page.messages:
                assert await reader.wait_for(ROOM, after, 5), f"stuck at {len(seen)}"
        return seen

    try:
        tailing = asyncio.create_task(tail())
        await asyncio.gather(*(write(s, w * 10_000) for w, s in enumerate(stores[:writers])))
        seen = await asyncio.wait_for(tailing, 30)
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert sorted(seen) == [w * 10_000 + i for w in range(writers) for i in range(per_writer)]
    for w in range(writers):
        assert [i for i in seen if i // 10_000 == w] == [w * 10_000 + i for i in range(per_writer)]


async def test_lost_connections_are_replaced(
    pg_url: str, pg_admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    store = PostgresStore(pg_url, poll_interval=0.05)
    async with store:
        await store.append([rec(1)])
        assert (await store.read(ROOM, 0, 5)).messages
        assert store._wconn is not None and store._lconn is not None
        pids = [store._wconn.info.backend_pid, store._lconn.info.backend_pid]
        pids += [c.info.backend_pid for c in store._pool._idle]  # the readers
        assert len(pids) >= 3
        for pid in pids:
            pg_admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert await store.append([rec(2)]) == 1  # writer: reconnects and retries the batch
        msgs = (await store.read(ROOM, 0, 5)).messages  # readers: dead ones replaced
        assert [m.msg_id for m in msgs] == [1, 2]
        last = msgs[-1].seq
        async with PostgresStore(pg_url) as other:
            waiter = asyncio.create_task(store.wait_for(ROOM, last, 60))
            await asyncio.sleep(0.05)
            await other.append([rec(3)])
            assert await asyncio.wait_for(waiter, 10)  # listener back (or polling meanwhile)
        for _ in range(200):
            if store._listening:
                break
            await asyncio.sleep(0.05)
        assert store._listening


async def test_connection_errors_are_store_errors_without_the_password() -> None:
    bad = "postgresql://someone:s3cret@127.0.0.1:1/nodb"
    assert redact(bad) == "postgresql://someone:***@127.0.0.1:1/nodb"
    with pytest.raises(StoreError) as err:
        await PostgresStore(bad, connect_timeout=2).open()
    assert "cannot connect" in str(err.value) and "s3cret" not in str(err.value)


async def test_a_missing_schema_is_a_store_error(pg_url: str) -> None:
    base = pg_url.split("?", 1)[0]
    pg_url = f"{base}?options=-csearch_path%3Ddylive_no_such_schema_{uuid.uuid4().hex[:8]}"
    with pytest.raises(StoreError, match="no schema"):
        await PostgresStore(pg_url).open()


async def test_a_position_write_that_cannot_move_it_is_not_sent(pg_url: str) -> None:
    """Positions only move forward: below what this process committed, no writer batch."""
    async with PostgresStore(pg_url) as store, PostgresStore(pg_url) as other:
        await store.set_position(1, ROOM, 10, wait=True)
        batches = store.batches
        await store.set_position(1, ROOM, 10, wait=True)
        await store.set_position(1, ROOM, 4, wait=False)
        await store.set_position(1, ROOM, 7, wait=True)
        assert store.batches == batches
        await other.set_position(1, ROOM, 30, wait=True)  # another node moved it on
        await store.set_position(1, ROOM, 20, wait=True)  # sent: this one knows 10 only
        assert store.batches == batches + 1
        assert await store.get_position(1, ROOM) == 30
        await store.set_position(1, BIG, 5, wait=False)  # other keys: written as before
        await store.set_position(2, ROOM, 11, wait=True)
        assert await other.get_position(1, BIG) == 5
        assert await other.get_position(2, ROOM) == 11
