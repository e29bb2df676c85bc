"""API tokens on SQLite, with the token cache of the event loop thread (checked against the
tokens table's change counter, ``token_generation``: migration 12)."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from dylive.errors import StoreError

from ..domain import TOKEN_INSERT, TokenRules
from ..records import TokenRecord
from ..rows import TOKEN_COLS, now_ms, token_from_row
from .engine import SQLiteEngine


class SQLiteTokens(SQLiteEngine, TokenRules):
    """:class:`~dylive.store.interfaces.Tokens` on SQLite."""

    async def _insert_token(self, name: str, row: tuple[Any, ...]) -> tuple[int, bool]:
        def insert(conn: sqlite3.Connection) -> tuple[int, bool]:
            taken = conn.execute(
                "SELECT id FROM tokens WHERE name = ? AND revoked_at = 0", (name,)
            ).fetchone()
            if taken is not None:
                return int(taken[0]), True
            cur = conn.execute(
                f"INSERT INTO tokens ({TOKEN_INSERT}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cur.lastrowid or 0), False

        result: tuple[int, bool] = await self._submit(insert)
        return result

    async def token_by_digest(self, digest: str) -> TokenRecord | None:
        """Cached while the tokens table is unchanged (``token_generation`` moves with every
        insert, update and delete of a token, by any connection in any process)."""
        generation = self._token_generation()
        hit = self._tokens.get(digest)
        if hit is not None and hit[0] == generation >= 0:
            return hit[1]
        row = await self._point(f"SELECT {TOKEN_COLS} FROM tokens WHERE digest = ?", (digest,))
        record = token_from_row(row) if row else None
        if len(self._tokens) >= 10_000:
            self._tokens.clear()
        self._tokens[digest] = (generation, record)
        return record

    def _token_generation(self) -> int:
        """The tokens table's change counter (-1: no watch connection).

        Read at most once per batch of event-loop callbacks (forgotten by a callback queued
        behind the batch, and by every commit of this store): the requests handled in one
        batch were all received before it began, so a change by another process that this
        value misses is concurrent with each of them, and one of this store (a revocation
        through the API) is seen by every request after it. (``PRAGMA data_version``, checked
        before, moved with every commit of messages too: while rooms were collected, each
        request read its token again.)"""
        if self._watch is None:
            return -1
        generation = self._generation
        if generation is None:
            try:
                row = self._watch.execute("SELECT n FROM token_generation WHERE id = 1").fetchone()
            except sqlite3.Error as exc:
                raise StoreError(f"read failed: {exc}") from exc
            generation = int(row[0]) if row else -1
            self._generation = generation
            asyncio.get_running_loop().call_soon(self._forget_generation)
        return generation

    def _forget_generation(self) -> None:
        self._generation = None

    async def list_tokens(self) -> list[TokenRecord]:
        rows = await self._query(
            lambda conn: conn.execute(f"SELECT {TOKEN_COLS} FROM tokens ORDER BY id").fetchall()
        )
        return [token_from_row(r) for r in rows]

    async def revoke_token(self, ident: str | int) -> int:
        column = self.revoke_column(ident)

        def revoke(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                f"UPDATE tokens SET revoked_at = ? WHERE revoked_at = 0 AND {column} = ?",
                (now_ms(), ident),
            )
            return cur.rowcount

        count: int = await self._submit(revoke)
        return count
