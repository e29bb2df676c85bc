"""API tokens on PostgreSQL: every change (create, update, revoke) notifies (``t``) so each
process drops its token cache. Taking a name (create, rename) first takes a transaction lock on
it: two nodes checking the same free name at once would otherwise both insert, and the second
would fail on the unique index (a database error instead of ``TokenNameTaken``)."""

from __future__ import annotations

from typing import Any

from ..domain import TOKEN_INSERT, TOKEN_PLAN, TokenRules, plan_values
from ..records import TokenChange, TokenRecord
from ..rows import TOKEN_COLS, now_ms, token_from_row
from .engine import PostgresEngine
from .pool import Conn

_PLAN_SET = ", ".join(f"{column} = %s" for column in TOKEN_PLAN)


#: the class key of token name locks (two-key advisory locks: apart from the appends' room locks,
#: which take one bigint key, and from the migrations' class)
_NAME_LOCK = 0x64796C74


async def _lock_name(conn: Conn, name: str) -> None:
    """Hold the name until the transaction ends (other nodes taking it wait, then see it)."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_NAME_LOCK, name))


class PostgresTokens(PostgresEngine, TokenRules):
    """:class:`~dylive.store.interfaces.Tokens` on PostgreSQL."""

    async def _insert_token(self, name: str, row: tuple[Any, ...]) -> tuple[int, bool]:
        async def insert(conn: Conn) -> tuple[int, bool]:
            await _lock_name(conn, name)
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
        generation = self._tokens.generation
        row = await self._fetch_one(f"SELECT {TOKEN_COLS} FROM tokens WHERE digest = %s", (digest,))
        record = token_from_row(row) if row else None
        self._tokens.put(digest, record, generation)
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

    async def _update_token(
        self, token_id: int, change: TokenChange
    ) -> tuple[TokenRecord | None, TokenRecord | None, int | None]:
        async def update(conn: Conn) -> tuple[TokenRecord | None, TokenRecord | None, int | None]:
            cur = await conn.execute(
                f"SELECT {TOKEN_COLS} FROM tokens WHERE id = %s FOR UPDATE", (token_id,)
            )
            found = await cur.fetchone()
            before = token_from_row(found) if found else None
            holder = None
            if self.renames(before, change):
                await _lock_name(conn, str(change.name))
                cur = await conn.execute(
                    "SELECT id FROM tokens WHERE name = %s AND revoked_at = 0 AND id != %s",
                    (change.name, token_id),
                )
                taken = await cur.fetchone()
                holder = int(taken[0]) if taken else None
            after = self.updated(before, change, holder)
            if after is not None:
                await conn.execute(
                    f"UPDATE tokens SET {_PLAN_SET} WHERE id = %s", (*plan_values(after), token_id)
                )
                await conn.execute("SELECT pg_notify(%s, 't')", (self._channel,))
            return before, after, holder

        result: tuple[TokenRecord | None, TokenRecord | None, int | None]
        result = await self._submit(update)
        if result[1] is not None:
            self._tokens.clear()  # here at once; other processes on the notification
        return result
