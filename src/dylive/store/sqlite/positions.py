"""Read positions on SQLite: per API token (coalesced, debounced writes) and per delivery
consumer."""

from __future__ import annotations

import asyncio

from ..domain import PositionRules
from ..migrations import to_signed, to_unsigned
from ..rows import now_ms
from .engine import SQLiteEngine
from .outbox import SET_CONSUMER_POSITION

#: compare-and-set of a cursor-less read (see ``claim_position``): inserted, or moved only if
#: nobody moved it beyond where this reader started; no change = lost to another reader
_CLAIM_POSITION = """
INSERT INTO positions (token_id, room_id, seq) VALUES (?, ?, ?)
ON CONFLICT (token_id, room_id) DO UPDATE SET seq = excluded.seq WHERE positions.seq <= ?
"""


class SQLitePositions(SQLiteEngine, PositionRules):
    """:class:`~dylive.store.interfaces.Positions` on SQLite."""

    async def _stored_position(self, token_id: int, room_id: int) -> int | None:
        row = await self._point(
            "SELECT seq FROM positions WHERE token_id = ? AND room_id = ?",
            (token_id, to_signed(room_id)),
        )
        return int(row[0]) if row else None

    async def set_position(self, token_id: int, room_id: int, seq: int, *, wait: bool) -> None:
        """Awaited writes commit before returning; unawaited ones are coalesced per
        (token, room) and written ``position_delay`` seconds later (or at close)."""
        key = (token_id, room_id)
        with self._lock:
            first = not self._pending_pos
            self._pending_pos[key] = max(seq, self._pending_pos.get(key, 0))
        if wait:
            await self._submit(self._positions_op(), pure=True)
        elif first:  # debounced: one writer op per interval, however many polls
            asyncio.get_running_loop().call_later(self._position_delay, self._flush_positions)

    async def claim_position(self, token_id: int, room_id: int, after: int, seq: int) -> bool:
        args = (token_id, to_signed(room_id), seq, after)
        changed: int = await self._submit(
            lambda conn: conn.execute(_CLAIM_POSITION, args).rowcount, pure=True
        )
        return changed == 1

    async def consumer_positions(self, consumer: str) -> dict[int, int]:
        rows = await self._query(
            lambda conn: conn.execute(
                "SELECT room_id, seq FROM outbox_positions WHERE consumer = ?", (consumer,)
            ).fetchall()
        )
        return {to_unsigned(room_id): int(seq) for room_id, seq in rows}

    async def set_consumer_position(self, consumer: str, room_id: int, seq: int) -> None:
        args = (consumer, to_signed(room_id), seq, now_ms())
        await self._submit(lambda conn: conn.execute(SET_CONSUMER_POSITION, args), pure=True)
