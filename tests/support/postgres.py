"""A PostgreSQL of the test's own: reachable or skip, created for the test and dropped after it.

The server is 127.0.0.1:5432 with trust auth; ``DYLIVE_TEST_POSTGRES`` overrides the admin URL.
A test skips when the server is unreachable, except under CI (``CI`` set), where it must be
there and the test fails instead. ``fresh_schema`` gives a schema of the admin database (cheap:
most store tests use it through the ``pg_url`` fixture); ``fresh_database`` a whole database
(for tests that run ``dylive serve`` processes against it).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

ADMIN_URL = os.environ.get("DYLIVE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

PgConnection = psycopg.Connection[tuple[object, ...]]


def admin_connection() -> PgConnection:
    """An autocommit connection to the admin URL, or a skip (a failure under CI)."""
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL required in CI but unreachable at {ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {ADMIN_URL}: {exc}")


def schema_url(schema: str, url: str = ADMIN_URL) -> str:
    """``url`` with its search_path set to ``schema``."""
    return f"{url}?options=-csearch_path%3D{schema}"


def database_url(name: str, url: str = ADMIN_URL) -> str:
    """``url`` naming the database ``name`` instead (its query string kept)."""
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return f"{base}?{query}" if query else base


@contextlib.contextmanager
def fresh_schema(admin: PgConnection, prefix: str = "dylive_t_") -> Iterator[str]:
    """A new, uniquely named schema through ``admin`` (dropped afterwards); its name."""
    name = prefix + uuid.uuid4().hex[:16]
    admin.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        admin.execute(f"DROP SCHEMA {name} CASCADE")


@contextlib.contextmanager
def fresh_database(prefix: str = "dylive_fleet_") -> Iterator[str]:
    """A new, uniquely named database (dropped afterwards, connections and all); its URL."""
    name = prefix + uuid.uuid4().hex[:12]
    with admin_connection() as admin:
        admin.execute(f"CREATE DATABASE {name}")
        try:
            yield database_url(name)
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
