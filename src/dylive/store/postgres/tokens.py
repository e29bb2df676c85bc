"""API tokens on PostgreSQL: every change notifies (``t``) so each process drops its token
cache."""

from __future__ import annotations

from typing import Any

from ..domain import TOKEN_INSERT, TokenRules
from ..records import TokenRecord
from ..rows import TOKEN_COLS, now_ms, token_from_row
from .engine import PostgresEngine
from .pool import Conn


class PostgresTokens(PostgresEngine, TokenRules):
    """:class:`~dylive.store.interfaces.Tokens` on PostgreSQL."""

    async def _insert_token(self, name: str, row: tuple[Any, ...]) -> tuple[int, bool]:
        async def insert(conn: Conn) -> tuple[int, bool]:
            cur = await conn.execute(
                "SELECT id FROM tokens WHERE name = %s AND revoked_at = 0", (name,)
            )
            taken = await cur.fetchone()
            if taken is not None:
                return int(taken[0]), True
            cur = await conn.execute(
                f"INSERT INTO tokens ({TOKEN_INSERT})"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                row,
            )
            new = await cur.fetchone()
            await conn.execute("SELECT pg_notify(%s, 't')", (self._channel,))
            return (int(new[0]) if new else 0), False

        result: tuple[int, bool] = await self._submit(insert)
        if not result[1]:
            self._tokens.clear()
        return result

    async def token_by_digest(self, digest: str) -> TokenRecord | None:
        """Cached for a few seconds; any token change on any node clears every cache."""
        hit, record = self._tokens.get(digest)
        if hit:
            return record
        row = await self._fetch_one(f"SELECT {TOKEN_COLS} FROM tokens WHERE digest = %s", (digest,))
        record = token_from_row(row) if row else None
        self._tokens.put(digest, record)
        return record

    async def list_tokens(self) -> list[TokenRecord]:
        rows = await self._fetch(f"SELECT {TOKEN_COLS} FROM tokens ORDER BY id")
        return [token_from_row(r) for r in rows]

    async def revoke_token(self, ident: str | int) -> int:
        column = self.revoke_column(ident)

        async def revoke(conn: Conn) -> int:
            cur = await conn.execute(
                f"UPDATE tokens SET revoked_at = %s WHERE revoked_at = 0 AND {column} = %s",
                (now_ms(), ident),
            )
            await conn.execute("SELECT pg_notify(%s, 't')", (self._channel,))
            return cur.rowcount

        count: int = await self._submit(revoke)
        self._tokens.clear()  # here at once; other processes on the notification
        return count
