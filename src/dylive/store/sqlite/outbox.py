"""The delivery outbox on SQLite: dead letters and webhooks (consumer positions: ``positions``)."""

from __future__ import annotations

import sqlite3

from ..delivery_rows import (
    HOOK_COLS,
    HOOK_INSERT_COLS,
    LETTER_COLS,
    hook_from_row,
    hook_values,
    letter_from_row,
    letter_values,
)
from ..domain import OutboxRules
from ..migrations import to_signed
from ..records import DeadLetter, WebhookRecord
from ..rows import now_ms
from .engine import SQLiteEngine

#: Moves a consumer's position in a room forward (``set_consumer_position``, dead letters).
SET_CONSUMER_POSITION = """
INSERT INTO outbox_positions (consumer, room_id, seq, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (consumer, room_id) DO UPDATE
SET seq = max(seq, excluded.seq), updated_at = excluded.updated_at
"""


class SQLiteOutbox(SQLiteEngine, OutboxRules):
    """:class:`~dylive.store.interfaces.Outbox` on SQLite."""

    # -- dead letters ---------------------------------------------------------------------------
    async def add_dead_letter(self, letter: DeadLetter) -> int:
        now = now_ms()
        values = letter_values(letter, now)
        position = (letter.consumer, to_signed(letter.room_id), letter.last_seq, now)

        def insert(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                f"INSERT INTO dead_letters ({LETTER_COLS.removeprefix('id, ')})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            conn.execute(SET_CONSUMER_POSITION, position)
            return int(cur.lastrowid or 0)

        letter_id: int = await self._submit(insert)
        return letter_id

    async def dead_letters(self, consumer: str, limit: int = 100) -> list[DeadLetter]:
        rows = await self._query(
            lambda conn: conn.execute(
                f"SELECT {LETTER_COLS} FROM dead_letters WHERE consumer = ? ORDER BY id LIMIT ?",
                (consumer, limit),
            ).fetchall()
        )
        return [letter_from_row(r) for r in rows]

    async def dead_letter(self, consumer: str, letter_id: int) -> DeadLetter | None:
        row = await self._query(
            lambda conn: conn.execute(
                f"SELECT {LETTER_COLS} FROM dead_letters WHERE consumer = ? AND id = ?",
                (consumer, letter_id),
            ).fetchone()
        )
        return letter_from_row(row) if row else None

    async def count_dead_letters(self, consumer: str) -> int:
        row = await self._query(
            lambda conn: conn.execute(
                "SELECT count(*) FROM dead_letters WHERE consumer = ?", (consumer,)
            ).fetchone()
        )
        return int(row[0])

    async def delete_dead_letter(self, consumer: str, letter_id: int) -> bool:
        def delete(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM dead_letters WHERE consumer = ? AND id = ?", (consumer, letter_id)
            ).rowcount

        deleted: int = await self._submit(delete)
        return deleted > 0

    async def drop_consumer(self, consumer: str) -> None:
        def drop(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM outbox_positions WHERE consumer = ?", (consumer,))
            conn.execute("DELETE FROM dead_letters WHERE consumer = ?", (consumer,))

        await self._submit(drop)

    # -- webhooks -------------------------------------------------------------------------------
    async def create_webhook(self, hook: WebhookRecord) -> int:
        values = hook_values(hook, now_ms())

        def insert(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                f"INSERT INTO webhooks ({HOOK_INSERT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            return int(cur.lastrowid or 0)

        hook_id: int = await self._submit(insert)
        return hook_id

    async def webhooks(self, token_id: int | None = None) -> list[WebhookRecord]:
        where, args = ("WHERE token_id = ?", (token_id,)) if token_id is not None else ("", ())
        rows = await self._query(
            lambda conn: conn.execute(
                f"SELECT {HOOK_COLS} FROM webhooks {where} ORDER BY id", args
            ).fetchall()
        )
        return [hook_from_row(r) for r in rows]

    async def _delete_webhook(self, hook_id: int, consumer: str) -> int:
        def delete(conn: sqlite3.Connection) -> int:
            count = conn.execute("DELETE FROM webhooks WHERE id = ?", (hook_id,)).rowcount
            conn.execute("DELETE FROM outbox_positions WHERE consumer = ?", (consumer,))
            conn.execute("DELETE FROM dead_letters WHERE consumer = ?", (consumer,))
            return count

        deleted: int = await self._submit(delete)
        return deleted

    async def set_webhook_paused(self, hook_id: int, paused_at: int, reason: str) -> None:
        await self._submit(
            lambda conn: conn.execute(
                "UPDATE webhooks SET paused_at = ?, pause_reason = ? WHERE id = ?",
                (paused_at, reason, hook_id),
            )
        )

    async def set_webhook_secret(
        self, hook_id: int, secret: str, previous_secret: str, previous_until: int
    ) -> None:
        await self._submit(
            lambda conn: conn.execute(
                "UPDATE webhooks SET secret = ?, previous_secret = ?, previous_until = ?"
                " WHERE id = ?",
                (secret, previous_secret, previous_until, hook_id),
            )
        )
