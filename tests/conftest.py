"""Fixtures shared by the whole suite; the helpers behind them live in ``tests/support/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.postgres import PgConnection, admin_connection, fresh_schema, schema_url
from support.service import serving

from dylive.serve import tokens


@pytest.fixture
def pg_admin() -> Iterator[PgConnection]:
    """An autocommit connection to the test server's admin database (skip when unreachable)."""
    with admin_connection() as conn:
        yield conn


@pytest.fixture
def pg_schema(pg_admin: PgConnection) -> Iterator[str]:
    """A fresh schema of the test's own, dropped afterwards."""
    with fresh_schema(pg_admin) as name:
        yield name


@pytest.fixture
def pg_url(pg_schema: str) -> str:
    """A database URL whose search_path is the test's own schema."""
    return schema_url(pg_schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each backend in turn: an SQLite file path, then a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "s.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "api.sqlite3")


@pytest.fixture
def serve_api() -> object:
    """The :func:`support.service.serving` context manager, for tests that build their config."""
    return serving


@pytest.fixture
def make_token() -> object:
    async def make(svc: object, name: str = "t", **kw: float) -> str:
        return await tokens.create(svc.store, name, **kw)  # type: ignore[attr-defined]

    return make
