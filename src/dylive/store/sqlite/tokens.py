"""API tokens on SQLite, with the token cache of the event loop thread: checked against the token
change mark (``<db>-tokens``, :mod:`.tokenmark`) on every lookup, and against the tokens
table's change counter (``token_generation``: migration 12) every ``RECHECK`` seconds."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from dylive.errors import StoreError

from ..domain import INSERT, NAME_LOCK, WRITE, TokenRules, TokenStep, TokenSteps, TokenWrite
from ..records import TokenRecord
from ..rows import TOKEN_COLS, now_ms, token_from_row
from ..sessions import q
from .engine import SQLiteEngine
from .tokenmark import RECHECK, TokenMark

T = TypeVar("T")


class SQLiteTokens(SQLiteEngine, TokenRules):
    """:class:`~dylive.store.interfaces.Tokens` on SQLite."""

    _mark: TokenMark | None = None  # the change mark, read by the loop thread (opened lazily)
    _mark_failed = False  # it could not be opened: token_generation once per loop batch
    _mark_seen: bytes | None = None
    _epoch = 0  # moves whenever the mark or token_generation is seen to change
    _counter = -2  # token_generation as last read (mark mode)
    _recheck_at = 0.0  # time.monotonic() when token_generation is read next (mark mode)

    async def _token_write(self, steps: Callable[[], TokenSteps[T]]) -> T:
        def run(conn: sqlite3.Connection) -> TokenWrite[T]:
            write = TokenWrite(steps())
            step = write.send(None)
            while step is not None:
                step = write.send(_execute(conn, step))
            return write

        done: TokenWrite[T] = await self._submit(run)
        if done.changed:
            self._tokens_written()
        return done.result

    async def token_by_digest(self, digest: str) -> TokenRecord | None:
        """Cached while the tokens are unchanged: the change mark rewritten by every token write
        of dylive in any process (seen by the next lookup), and ``token_generation``, moved by
        every insert, update and delete of a token by any connection (seen within RECHECK)."""
        version = self._token_version()
        hit = self._tokens.get(digest)
        if hit is not None and hit[0] == version >= 0:
            return hit[1]
        row = await self._point(f"SELECT {TOKEN_COLS} FROM tokens WHERE digest = ?", (digest,))
        record = token_from_row(row) if row else None
        if len(self._tokens) >= 10_000:
            self._tokens.clear()
        self._tokens[digest] = (version, record)
        return record

    def _token_version(self) -> int:
        """What the cached records are valid for (-1: not open, nothing cached).

        With the change mark: a number moved whenever the mark's bytes differ from the last
        lookup's (a pread, no database read) or, read at most every RECHECK seconds,
        ``token_generation`` moved. Without it: ``token_generation`` itself."""
        if self._watch is None:
            return -1
        mark = self._mark
        if mark is None:
            if self._mark_failed:
                return self._token_generation()
            mark = TokenMark(self.path)
            if not mark.open():
                self._mark_failed = True
                self._tokens.clear()  # no entry keyed by an epoch may match a generation
                return self._token_generation()
            self._mark = mark
        seen = mark.read()
        if seen is None or seen != self._mark_seen:  # None (unreadable): changed, every time
            self._mark_seen = seen
            self._epoch += 1
        now = time.monotonic()
        if now >= self._recheck_at:
            self._recheck_at = now + RECHECK
            if mark.replaced() and not mark.open():  # the file was deleted or replaced
                self._mark = None
                self._mark_failed = True
                self._tokens.clear()
                return self._token_generation()
            counter = self._read_counter()
            if counter != self._counter:
                self._counter = counter
                self._epoch += 1
        return self._epoch

    def _read_counter(self) -> int:
        assert self._watch is not None
        try:
            row = self._watch.execute("SELECT n FROM token_generation WHERE id = 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"read failed: {exc}") from exc
        return int(row[0]) if row else -1

    def _token_generation(self) -> int:
        """The tokens table's change counter (without the change mark).

        Read at most once per batch of event-loop callbacks (forgotten by a callback queued
        behind the batch, and by every commit of this store): the requests handled in one
        batch were all received before it began, so a change by another process that this
        value misses is concurrent with each of them, and one of this store (a revocation
        through the API) is seen by every request after it. (``PRAGMA data_version``, checked
        before, moved with every commit of messages too: while rooms were collected, each
        request read its token again.)"""
        generation = self._generation
        if generation is None:
            generation = self._generation = self._read_counter()
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
        if count:
            self._tokens_written()
        return count

    def _tokens_written(self) -> None:
        """A token write of this store committed: every process's next lookup reads again."""
        (self._mark or TokenMark(self.path)).bump()
        self._epoch += 1

    async def close(self) -> None:
        await super().close()
        if self._mark is not None:
            self._mark.close()
            self._mark = None


def _execute(conn: sqlite3.Connection, step: TokenStep) -> Any:
    """A token write's step on SQLite (see :class:`~dylive.store.domain.TokenStep`): the one
    writer runs one write at a time, so names and rows need no lock of their own."""
    if step.kind == NAME_LOCK:
        return None
    cur = conn.execute(q(step.sql), step.args)
    if step.kind == INSERT:
        return int(cur.lastrowid or 0)
    return None if step.kind == WRITE else cur.fetchone()
