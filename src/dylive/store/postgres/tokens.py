"""API tokens on PostgreSQL: every change (create, update, revoke) notifies (``t``) so each
process drops its token cache. Taking a name (create, rename) first takes a transaction lock on
it: two nodes checking the same free name at once would otherwise both insert, and the second
would fail on the unique index (a database error instead of ``TokenNameTaken``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..domain import (
    INSERT,
    NAME_LOCK,
    READ_FOR_UPDATE,
    WRITE,
    TokenRules,
    TokenStep,
    TokenSteps,
    TokenWrite,
)
from ..records import TokenRecord
from ..rows import TOKEN_COLS, now_ms, token_from_row
from .engine import PostgresEngine
from .pool import Conn

T = TypeVar("T")


#: the class key of token name locks (two-key advisory locks: apart from the appends' room locks,
#: which take one bigint key, and from the migrations' class)
_NAME_LOCK = 0x64796C74


async def _lock_name(conn: Conn, name: str) -> None:
    """Hold the name until the transaction ends (other nodes taking it wait, then see it)."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_NAME_LOCK, name))


class PostgresTokens(PostgresEngine, TokenRules):
    """:class:`~dylive.store.interfaces.Tokens` on PostgreSQL."""

    async def _token_write(self, steps: Callable[[], TokenSteps[T]]) -> T:
        async def run(conn: Conn) -> TokenWrite[T]:
            write = TokenWrite(steps())
            step = write.send(None)
            while step is not None:
                step = write.send(await self._execute(conn, step))
            return write

        done: TokenWrite[T] = await self._submit(run)
        if done.changed:
            self._tokens.clear()  # here at once; other processes on the notification
        return done.result

    async def _execute(self, conn: Conn, step: TokenStep) -> Any:
        """A token write's step on PostgreSQL (see :class:`~dylive.store.domain.TokenStep`);
        a step that changes the tokens notifies (``t``) in its transaction."""
        if step.kind == NAME_LOCK:
            await _lock_name(conn, step.args[0])
            return None
        sql = step.sql
        if step.kind == READ_FOR_UPDATE:
            sql += " FOR UPDATE"
        elif step.kind == INSERT:
            sql += " RETURNING id"
        cur = await conn.execute(sql, step.args)
        answer = None if step.kind == WRITE else await cur.fetchone()
        if step.kind in (INSERT, WRITE):
            await conn.execute("SELECT pg_notify(%s, 't')", (self._channel,))
        if step.kind == INSERT:
            return int(answer[0]) if answer else 0
        return answer

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
