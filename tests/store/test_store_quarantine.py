"""The quarantine keeps any bytes (issue 22, item 3).

Reproduction: a poison message whose method name held a NUL was refused by PostgreSQL (text
fields cannot contain NUL), then refused again by the quarantine insert: lost, yet counted as
quarantined. The quarantine stores method and error as bytes on both backends (a migration).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from support.postgres import PgConnection, schema_url

from dylive.errors import StoreError
from dylive.store import EventStore, Record, open_store
from dylive.store.migrations import POSTGRES, SQLITE

ROOM = 7001
#: the migrations before the one that turns the quarantine's text into bytes
SQLITE_STEP = next(i for i, sql in enumerate(SQLITE) if "quarantine_bytes" in sql)
POSTGRES_STEP = next(i for i, sql in enumerate(POSTGRES) if "TYPE BYTEA" in sql)
Factory = Callable[[], EventStore]


@pytest.fixture
def make(store_url: str) -> Factory:
    return functools.partial(open_store, store_url)


def poison(msg_id: int, method: str) -> Record:
    return Record(ROOM, msg_id, method, 1, b'{"x":1}', b"\x00\xff raw \x00")


async def test_any_method_and_error_text_is_kept(make: Factory, store_url: str) -> None:
    nul = "Webcast\x00Chat\x00Message"
    odd = "Webcast\udcffLone"  # a lone surrogate: not encodable as plain UTF-8
    async with make() as store:
        if not store_url.startswith("postgresql"):
            assert await store.append([poison(1, nul)]) == 1  # SQLite stores such text
        else:
            with pytest.raises(StoreError) as refused:
                await store.append([poison(1, nul)])
            assert not refused.value.transient  # the data: the collector quarantines it
        await store.quarantine(poison(1, nul), "refused: \x00 in the method")
        await store.quarantine(poison(2, odd), f"refused: {odd}")
        got = await store.quarantined(ROOM)
    assert [(q.msg_id, q.method, q.error) for q in got] == [
        (2, odd, f"refused: {odd}"),
        (1, nul, "refused: \x00 in the method"),
    ]
    assert all(q.raw == b"\x00\xff raw \x00" for q in got)


async def test_sqlite_rows_quarantined_before_the_migration_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for script in SQLITE[:SQLITE_STEP]:
        conn.executescript(script)
    conn.execute(
        "INSERT INTO quarantine (room_id, msg_id, method, raw, error, stored_at)"
        " VALUES (?, '5', 'WebcastOld', x'0aff', 'old error', 1)",
        (ROOM,),
    )
    conn.execute(f"PRAGMA user_version = {SQLITE_STEP}")
    conn.commit()
    conn.close()
    async with open_store(str(path)) as store:
        [old] = await store.quarantined(ROOM)
        await store.quarantine(poison(6, "New\x00"), "new")
        newest = (await store.quarantined(ROOM))[0]
    assert (old.msg_id, old.method, old.raw, old.error) == (
        5,
        "WebcastOld",
        b"\x0a\xff",
        "old error",
    )
    assert (newest.msg_id, newest.method) == (6, "New\x00") and newest.id > old.id


@pytest.mark.postgres
async def test_postgres_rows_quarantined_before_the_migration_are_kept(
    pg_admin: PgConnection, pg_schema: str
) -> None:
    pg_admin.execute(f"SET search_path = {pg_schema}")
    pg_admin.execute(
        "CREATE TABLE dylive_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
    )
    for number, script in enumerate(POSTGRES[:POSTGRES_STEP], start=1):
        pg_admin.execute(script.encode())
        pg_admin.execute("INSERT INTO dylive_schema VALUES (%s, 0)", (number,))
    pg_admin.execute(
        "INSERT INTO quarantine (room_id, msg_id, method, raw, error, stored_at)"
        " VALUES (%s, '5', 'WebcastOld', '\\x0aff'::bytea, 'old error', 1)",
        (ROOM,),
    )
    pg_admin.execute("SET search_path = public")
    async with open_store(schema_url(pg_schema)) as store:
        [old] = await store.quarantined(ROOM)
        await store.quarantine(poison(6, "New\x00"), "new")
        newest = (await store.quarantined(ROOM))[0]
    assert (old.msg_id, old.method, old.raw, old.error) == (
        5,
        "WebcastOld",
        b"\x0a\xff",
        "old error",
    )
    assert (newest.msg_id, newest.method) == (6, "New\x00") and newest.id > old.id
