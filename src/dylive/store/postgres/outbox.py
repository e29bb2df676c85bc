"""The delivery outbox on PostgreSQL: dead letters and webhooks (consumer positions:
``positions``)."""

from __future__ import annotations

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
from .engine import PostgresEngine
from .pool import Conn

#: Moves a consumer's position in a room forward (``set_consumer_position``, dead letters).
SET_CONSUMER_POSITION = """
INSERT INTO outbox_positions (consumer, room_id, seq, updated_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (consumer, room_id) DO UPDATE
SET seq = greatest(outbox_positions.seq, excluded.seq), updated_at = excluded.updated_at
"""


class PostgresOutbox(PostgresEngine, OutboxRules):
    """:class:`~dylive.store.interfaces.Outbox` on PostgreSQL."""

    # -- dead letters ---------------------------------------------------------------------------
    async def add_dead_letter(self, letter: DeadLetter) -> int:
        now = now_ms()
        values = letter_values(letter, now)
        position = (letter.consumer, to_signed(letter.room_id), letter.last_seq, now)

        async def insert(conn: Conn) -> int:
            cur = await conn.execute(
                f"INSERT INTO dead_letters ({LETTER_COLS.removeprefix('id, ')})"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                values,
            )
            row = await cur.fetchone()
            await conn.execute(SET_CONSUMER_POSITION, position)
            return int(row[0]) if row else 0

        letter_id: int = await self._submit(insert)
        return letter_id

    async def dead_letters(self, consumer: str, limit: int = 100) -> list[DeadLetter]:
        rows = await self._fetch(
            f"SELECT {LETTER_COLS} FROM dead_letters WHERE consumer = %s ORDER BY id LIMIT %s",
            (consumer, limit),
        )
        return [letter_from_row(r) for r in rows]

    async def dead_letter(self, consumer: str, letter_id: int) -> DeadLetter | None:
        rows = await self._fetch(
            f"SELECT {LETTER_COLS} FROM dead_letters WHERE consumer = %s AND id = %s",
            (consumer, letter_id),
        )
        return letter_from_row(rows[0]) if rows else None

    async def count_dead_letters(self, consumer: str) -> int:
        rows = await self._fetch(
            "SELECT count(*) FROM dead_letters WHERE consumer = %s", (consumer,)
        )
        return int(rows[0][0])

    async def delete_dead_letter(self, consumer: str, letter_id: int) -> bool:
        deleted = await self._write(
            "DELETE FROM dead_letters WHERE consumer = %s AND id = %s", (consumer, letter_id)
        )
        return deleted > 0

    async def drop_consumer(self, consumer: str) -> None:
        async def drop(conn: Conn) -> None:
            await conn.execute("DELETE FROM outbox_positions WHERE consumer = %s", (consumer,))
            await conn.execute("DELETE FROM dead_letters WHERE consumer = %s", (consumer,))

        await self._submit(drop)

    # -- webhooks -------------------------------------------------------------------------------
    async def create_webhook(self, hook: WebhookRecord) -> int:
        values = hook_values(hook, now_ms())

        async def insert(conn: Conn) -> int:
            cur = await conn.execute(
                f"INSERT INTO webhooks ({HOOK_INSERT_COLS})"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                values,
            )
            row = await cur.fetchone()
            return int(row[0]) if row else 0

        hook_id: int = await self._submit(insert)
        return hook_id

    async def webhooks(self, token_id: int | None = None) -> list[WebhookRecord]:
        if token_id is None:
            rows = await self._fetch(f"SELECT {HOOK_COLS} FROM webhooks ORDER BY id")
        else:
            rows = await self._fetch(
                f"SELECT {HOOK_COLS} FROM webhooks WHERE token_id = %s ORDER BY id", (token_id,)
            )
        return [hook_from_row(r) for r in rows]

    async def _delete_webhook(self, hook_id: int, consumer: str) -> int:
        async def delete(conn: Conn) -> int:
            cur = await conn.execute("DELETE FROM webhooks WHERE id = %s", (hook_id,))
            await conn.execute("DELETE FROM outbox_positions WHERE consumer = %s", (consumer,))
            await conn.execute("DELETE FROM dead_letters WHERE consumer = %s", (consumer,))
            return cur.rowcount

        deleted: int = await self._submit(delete)
        return deleted

    async def set_webhook_paused(self, hook_id: int, paused_at: int, reason: str) -> None:
        await self._write(
            "UPDATE webhooks SET paused_at = %s, pause_reason = %s WHERE id = %s",
            (paused_at, reason, hook_id),
        )

    async def set_webhook_secret(
        self, hook_id: int, secret: str, previous_secret: str, previous_until: int
    ) -> None:
        await self._write(
            "UPDATE webhooks SET secret = %s, previous_secret = %s, previous_until = %s"
            " WHERE id = %s",
            (secret, previous_secret, previous_until, hook_id),
        )
