"""PostgreSQL fixtures shared by the store tests: a fresh schema per test, dropped afterwards.

The server is 127.0.0.1:5432 with trust auth (``DYLIVE_TEST_POSTGRES`` overrides the URL).
Tests skip when it is unreachable, except under CI, where it must be there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

ADMIN_URL = os.environ.get("DYLIVE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

PgConnection = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
def pg_admin() -> Iterator[PgConnection]:
    try:
        conn = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL required in CI but unreachable at {ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {ADMIN_URL}: {exc}")
    with conn:
        yield conn


@pytest.fixture
def pg_schema(pg_admin: PgConnection) -> Iterator[str]:
    name = "dylive_t_" + uuid.uuid4().hex[:16]
    pg_admin.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        pg_admin.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def pg_url(pg_schema: str) -> str:
    """A database URL whose search_path is the test's own schema."""
    return f"{ADMIN_URL}?options=-csearch_path%3D{pg_schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """Each backend in turn: an SQLite file path, then a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("tmp_path") / "s.db")
    return str(request.getfixturevalue("pg_url"))
