"""Usage counters, room uses and the admin audit log on SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Sequence

from ..interfaces import Usage
from ..migrations import to_signed, to_unsigned
from ..records import AuditEntry, UsageRow
from ..usage import (
    AUDIT_COLS,
    PRUNE_BATCH,
    USAGE_COLS,
    USAGE_TABLES,
    delete_in_batches,
    usage_values,
)
from .engine import SQLiteEngine

_ADD = (
    f"INSERT INTO token_usage ({USAGE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (token_id, hour, endpoint, code) DO UPDATE SET"
    " requests = requests + excluded.requests, messages = messages + excluded.messages,"
    " bytes = bytes + excluded.bytes"
)
_ROOM = "INSERT OR IGNORE INTO token_usage_rooms (token_id, hour, room_id) VALUES (?, ?, ?)"
# retention: a batch by primary key (the tables' indexes on hour / at find it)
_PRUNE_USAGE = tuple(
    f"DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} WHERE hour < ? LIMIT ?)"
    for table, key in USAGE_TABLES
)
_PRUNE_AUDIT = (
    "DELETE FROM admin_audit WHERE id IN (SELECT id FROM admin_audit WHERE at < ? LIMIT ?)",
)


class SQLiteUsage(SQLiteEngine, Usage):
    """:class:`~dylive.store.interfaces.Usage` on SQLite."""

    async def add_usage(
        self, rows: Sequence[UsageRow], rooms: Iterable[tuple[int, int, int]] = ()
    ) -> None:
        values = [usage_values(r) for r in rows]
        uses = [(t, h, to_signed(r)) for t, h, r in rooms]

        def add(conn: sqlite3.Connection) -> None:
            conn.executemany(_ADD, values)
            conn.executemany(_ROOM, uses)

        if values or uses:
            await self._submit(add, pure=True)

    async def usage(self, token_id: int | None, start_ms: int, end_ms: int) -> list[UsageRow]:
        sql = f"SELECT {USAGE_COLS} FROM token_usage WHERE hour >= ? AND hour < ?"
        args: tuple[int, ...] = (start_ms, end_ms)
        if token_id is not None:
            sql, args = sql + " AND token_id = ?", (*args, token_id)
        sql += " ORDER BY token_id, hour, endpoint, code"
        rows = await self._query(lambda conn: conn.execute(sql, args).fetchall())
        return [UsageRow(*row) for row in rows]

    async def usage_rooms(
        self, token_id: int | None, start_ms: int, end_ms: int
    ) -> list[tuple[int, int, int]]:
        sql = "SELECT token_id, hour, room_id FROM token_usage_rooms WHERE hour >= ? AND hour < ?"
        args: tuple[int, ...] = (start_ms, end_ms)
        if token_id is not None:
            sql, args = sql + " AND token_id = ?", (*args, token_id)
        rows = await self._query(lambda conn: conn.execute(sql, args).fetchall())
        return [(int(t), int(h), to_unsigned(int(r))) for t, h, r in rows]

    async def usage_totals(
        self, token_ids: Collection[int], since_ms: int
    ) -> dict[int, tuple[int, int]]:
        ids = list(token_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        sql = (
            "SELECT token_id, sum(CASE WHEN code = 200 THEN requests ELSE 0 END), sum(messages)"
            f" FROM token_usage WHERE hour >= ? AND token_id IN ({marks}) GROUP BY token_id"
        )
        rows = await self._query(lambda conn: conn.execute(sql, (since_ms, *ids)).fetchall())
        return {int(t): (int(r or 0), int(m or 0)) for t, r, m in rows}

    async def add_audit(self, entry: AuditEntry) -> int:
        sql = (
            "INSERT INTO admin_audit (at, actor, action, target, code, detail) VALUES (?,?,?,?,?,?)"
        )
        args = (entry.at, entry.actor, entry.action, entry.target, entry.code, entry.detail)
        new_id: int = await self._submit(lambda conn: conn.execute(sql, args).lastrowid or 0)
        return new_id

    async def audit(self, limit: int = 100, before_id: int = 0) -> list[AuditEntry]:
        sql = f"SELECT {AUDIT_COLS} FROM admin_audit"
        args: tuple[int, ...] = (limit,)
        if before_id > 0:
            sql, args = sql + " WHERE id < ?", (before_id, limit)
        sql += " ORDER BY id DESC LIMIT ?"
        rows = await self._query(lambda conn: conn.execute(sql, args).fetchall())
        return [AuditEntry(*row) for row in rows]

    async def prune_usage(self, before_ms: int, batch: int = PRUNE_BATCH) -> int:
        return await delete_in_batches(self._delete_batch, _PRUNE_USAGE, (before_ms,), batch)

    async def prune_audit(self, before_ms: int, batch: int = PRUNE_BATCH) -> int:
        return await delete_in_batches(self._delete_batch, _PRUNE_AUDIT, (before_ms,), batch)
