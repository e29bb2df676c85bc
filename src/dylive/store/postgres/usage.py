"""Usage counters, room uses and the admin audit log on PostgreSQL (additive upserts: every
node adds its own counts to the shared rows)."""

from __future__ import annotations

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
from .engine import PostgresEngine
from .pool import Conn

_ADD = (
    f"INSERT INTO token_usage ({USAGE_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (token_id, hour, endpoint, code) DO UPDATE SET"
    " requests = token_usage.requests + EXCLUDED.requests,"
    " messages = token_usage.messages + EXCLUDED.messages,"
    " bytes = token_usage.bytes + EXCLUDED.bytes"
)
_ROOM = (
    "INSERT INTO token_usage_rooms (token_id, hour, room_id) VALUES (%s, %s, %s)"
    " ON CONFLICT DO NOTHING"
)
# retention: a batch by row address (a TID scan; with a key IN (subquery) the planner scans
# and hashes the whole table for every batch)
_PRUNE = "DELETE FROM {0} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {0} WHERE {1} < %s LIMIT %s))"
_PRUNE_USAGE = tuple(_PRUNE.format(table, "hour") for table, _key in USAGE_TABLES)
_PRUNE_AUDIT = (_PRUNE.format("admin_audit", "at"),)


class PostgresUsage(PostgresEngine, Usage):
    """:class:`~dylive.store.interfaces.Usage` on PostgreSQL."""

    async def add_usage(
        self, rows: Sequence[UsageRow], rooms: Iterable[tuple[int, int, int]] = ()
    ) -> None:
        # sorted: two nodes adding to the same rows lock them in the same order (no deadlock)
        values = sorted(usage_values(r) for r in rows)
        uses = sorted((t, h, to_signed(r)) for t, h, r in rooms)

        async def add(conn: Conn) -> None:
            async with conn.cursor() as cur:
                if values:
                    await cur.executemany(_ADD, values)
                if uses:
                    await cur.executemany(_ROOM, uses)

        if values or uses:
            await self._submit(add)

    async def usage(self, token_id: int | None, start_ms: int, end_ms: int) -> list[UsageRow]:
        query = f"SELECT {USAGE_COLS} FROM token_usage WHERE hour >= %s AND hour < %s"
        args: tuple[int, ...] = (start_ms, end_ms)
        if token_id is not None:
            query, args = query + " AND token_id = %s", (*args, token_id)
        rows = await self._fetch(query + " ORDER BY token_id, hour, endpoint, code", args)
        return [UsageRow(*row) for row in rows]

    async def usage_rooms(
        self, token_id: int | None, start_ms: int, end_ms: int
    ) -> list[tuple[int, int, int]]:
        query = (
            "SELECT token_id, hour, room_id FROM token_usage_rooms WHERE hour >= %s AND hour < %s"
        )
        args: tuple[int, ...] = (start_ms, end_ms)
        if token_id is not None:
            query, args = query + " AND token_id = %s", (*args, token_id)
        rows = await self._fetch(query, args)
        return [(int(t), int(h), to_unsigned(int(r))) for t, h, r in rows]

    async def usage_totals(
        self, token_ids: Collection[int], since_ms: int
    ) -> dict[int, tuple[int, int]]:
        ids = list(token_ids)
        if not ids:
            return {}
        rows = await self._fetch(
            "SELECT token_id, sum(CASE WHEN code = 200 THEN requests ELSE 0 END), sum(messages)"
            " FROM token_usage WHERE hour >= %s AND token_id = ANY(%s) GROUP BY token_id",
            (since_ms, ids),
        )
        return {int(t): (int(r or 0), int(m or 0)) for t, r, m in rows}

    async def add_audit(self, entry: AuditEntry) -> int:
        args = (entry.at, entry.actor, entry.action, entry.target, entry.code, entry.detail)

        async def insert(conn: Conn) -> int:
            cur = await conn.execute(
                "INSERT INTO admin_audit (at, actor, action, target, code, detail)"
                " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                args,
            )
            row = await cur.fetchone()
            return int(row[0]) if row else 0

        new_id: int = await self._submit(insert)
        return new_id

    async def audit(self, limit: int = 100, before_id: int = 0) -> list[AuditEntry]:
        query = f"SELECT {AUDIT_COLS} FROM admin_audit"
        args: tuple[int, ...] = (limit,)
        if before_id > 0:
            query, args = query + " WHERE id < %s", (before_id, limit)
        rows = await self._fetch(query + " ORDER BY id DESC LIMIT %s", args)
        return [AuditEntry(*row) for row in rows]

    async def prune_usage(self, before_ms: int, batch: int = PRUNE_BATCH) -> int:
        return await delete_in_batches(self._write, _PRUNE_USAGE, (before_ms,), batch)

    async def prune_audit(self, before_ms: int, batch: int = PRUNE_BATCH) -> int:
        return await delete_in_batches(self._write, _PRUNE_AUDIT, (before_ms,), batch)
