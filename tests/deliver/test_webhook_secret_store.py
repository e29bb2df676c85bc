"""A webhook's previous secret and the end of its grace period in both stores: stored by
``set_webhook_secret``, read back by ``webhooks()``, kept across a reopen, and added (empty) to the
webhooks of a database from before migration 9."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from dylive.store import WebhookRecord, open_store
from dylive.store.migrations import POSTGRES, SQLITE

ADMIN_URL = os.environ.get("DYLIVE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
OLD, NEW = "whsec_" + "A" * 32, "whsec_" + "B" * 32


@pytest.fixture
def pg_schema() -> Iterator[tuple[psycopg.Connection[tuple[object, ...]], str]]:
    try:
        conn = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL required in CI but unreachable at {ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {ADMIN_URL}: {exc}")
    name = "dylive_t_" + uuid.uuid4().hex[:16]
    with conn:
        conn.execute(f"CREATE SCHEMA {name}")
        try:
            yield conn, name
        finally:
            conn.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "s.db")
    _conn, schema = request.getfixturevalue("pg_schema")
    return f"{ADMIN_URL}?options=-csearch_path%3D{schema}"


def hook() -> WebhookRecord:
    return WebhookRecord(0, 1, "https://example.com/h", OLD, ("123",), (), 10, 50)


async def test_secret_rotation_is_stored_and_survives_reopen(store_url: str) -> None:
    async with open_store(store_url) as store:
        hook_id = await store.create_webhook(hook())
        other = await store.create_webhook(hook())
        (stored, _) = await store.webhooks()
        assert (stored.secret, stored.previous_secret, stored.previous_until) == (OLD, "", 0)
        await store.set_webhook_secret(hook_id, NEW, OLD, 1_900_000_000_000)
    async with open_store(store_url) as store:
        first, second = await store.webhooks()
        assert first.id == hook_id and second.id == other
        assert (first.secret, first.previous_secret, first.previous_until) == (
            NEW,
            OLD,
            1_900_000_000_000,
        )
        assert (second.secret, second.previous_secret) == (OLD, "")  # only that webhook
        assert OLD not in repr(first) and NEW not in repr(first)  # secrets stay out of logs
        await store.set_webhook_secret(hook_id, OLD, "", 0)
        (first, _) = await store.webhooks(1)
        assert (first.secret, first.previous_secret, first.previous_until) == (OLD, "", 0)


#: A webhook row as schema 8 held it (before the rotation columns of migration 9).
_V8_HOOK = (
    "INSERT INTO webhooks (token_id, url, secret, rooms, methods, batch_size, batch_ms,"
    " created_at) VALUES (1, 'https://example.com/hook', '{secret}', '[\"615189692839\"]',"
    " '[]', 100, 100, 1)"
)


async def test_sqlite_database_from_before_migration_9(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)  # a database of schema 8, with a webhook
    for script in SQLITE[:8]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version=8")
    conn.execute(_V8_HOOK.format(secret=OLD))
    conn.commit()
    conn.close()
    async with open_store(str(path)) as store:
        (stored,) = await store.webhooks()
        assert (stored.secret, stored.previous_secret, stored.previous_until) == (OLD, "", 0)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(SQLITE)
    conn.close()


@pytest.mark.postgres
async def test_postgres_database_from_before_migration_9(
    pg_schema: tuple[psycopg.Connection[tuple[object, ...]], str],
) -> None:
    conn, schema = pg_schema
    url = f"{ADMIN_URL}?options=-csearch_path%3D{schema}"
    conn.execute(f"SET search_path TO {schema}")  # a schema-8 database, with a webhook
    conn.execute(
        "CREATE TABLE dylive_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
    )
    for number, script in enumerate(POSTGRES[:8], start=1):
        conn.execute(script.encode())
        conn.execute("INSERT INTO dylive_schema VALUES (%s, 0)", (number,))
    conn.execute(_V8_HOOK.format(secret=OLD).encode())
    conn.execute("SET search_path TO public")
    async with open_store(url) as store:
        (stored,) = await store.webhooks()
        assert (stored.secret, stored.previous_secret, stored.previous_until) == (OLD, "", 0)
    versions = conn.execute(f"SELECT max(version) FROM {schema}.dylive_schema").fetchone()
    assert versions == (len(POSTGRES),)
