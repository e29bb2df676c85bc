"""Throwaway PostgreSQL schemas for the benchmarks: created for one run, dropped afterwards.

``fresh_schema(admin_url)`` creates a uniquely named schema in the admin URL's database and
yields it as a :class:`Schema` (its name, and ``url``: the admin URL with its search_path set to
it, which is what ``open_store`` and ``dylive serve`` take); the schema is dropped with everything
in it when the block ends, whatever happened inside. ``admin=`` reuses an open autocommit
connection instead of opening one (a benchmark that also inspects the schema through it).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Schema:
    name: str
    admin_url: str

    @property
    def url(self) -> str:
        """The admin URL with its search_path set to this schema."""
        return schema_url(self.admin_url, self.name)


def schema_url(admin_url: str, name: str) -> str:
    """``admin_url`` with its search_path set to schema ``name`` (no query string of its own)."""
    return f"{admin_url}?options=-csearch_path%3D{name}"


@contextlib.contextmanager
def fresh_schema(
    admin_url: str, *, admin: Any = None, prefix: str = "dylive_bench_"
) -> Iterator[Schema]:
    """A new schema of ``admin_url``'s database, dropped (CASCADE) when the block ends."""
    import psycopg

    schema = Schema(prefix + uuid.uuid4().hex[:12], admin_url)
    with contextlib.ExitStack() as stack:
        conn = admin
        if conn is None:
            conn = stack.enter_context(
                psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
            )
        conn.execute(f"CREATE SCHEMA {schema.name}")
        try:
            yield schema
        finally:
            conn.execute(f"DROP SCHEMA {schema.name} CASCADE")
