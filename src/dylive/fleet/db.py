"""The fleet's SQL: node registry, room leases and token room use, on one PostgreSQL connection.

Tables (migration step 2 of :mod:`dylive.store.migrations`):

- ``fleet_nodes``: one row per node (id, address, version, capacity, heartbeat, state).
- ``fleet_rooms``: one row per room the fleet should collect — why (``pinned``, or
  ``wanted_until`` for on-demand rooms that are being polled) and who holds it (``owner``,
  ``epoch``, ``expires_at``), plus the owner's last reported lag, rate and error.
- ``fleet_token_rooms``: which rooms each token polled recently (fleet-wide room limits).

Leases are claimed with ``SELECT … FOR UPDATE SKIP LOCKED``: several nodes claiming at once each
get different rows without waiting for each other, and a row being claimed, renewed or written
under (the store's fencing check holds ``FOR KEY SHARE`` on it) is skipped, not waited for.
Every claim increments ``epoch``; the store refuses writes carrying an older epoch. Renewals
lock ``FOR NO KEY UPDATE`` and change no key column (``owner``/``epoch`` are in a unique index):
they never wait for a writer's transaction, nor a writer for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from dylive.errors import StoreError
from dylive.store.dburl import redact
from dylive.store.migrations import to_signed, to_unsigned

log = logging.getLogger(__name__)

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class NodeRow:
    node_id: str
    address: str
    version: str
    capacity: int
    started_at: int
    heartbeat_at: int
    state: str
    rooms: int = 0
    heartbeat_age_ms: int = 0


@dataclass(frozen=True, slots=True)
class Lease:
    """A room this node holds: write under ``Fence(node, epoch)``."""

    room_id: int
    ident: str
    epoch: int


@dataclass(frozen=True, slots=True)
class Held:
    """What a renewal reports back about a held room."""

    room_id: int
    epoch: int
    wanted: bool  # pinned, or polled recently (else the owner lets it go)


@dataclass(frozen=True, slots=True)
class RoomStats:
    """What the owner reports about a held room at each renewal."""

    room_id: int
    epoch: int
    lag_ms: int
    rate: float
    stored: int
    error: str


#: Lease and heartbeat times come from the database's clock, never a node's (skew-free).
NOW = "(extract(epoch from clock_timestamp()) * 1000)::bigint"

_CLAIM = f"""
WITH c AS (
    SELECT room_id FROM fleet_rooms
    WHERE (owner = '' OR expires_at < {NOW}) AND (pinned OR wanted_until > {NOW})
    ORDER BY room_id LIMIT %(n)s
    FOR UPDATE SKIP LOCKED
)
UPDATE fleet_rooms f SET owner = %(me)s, epoch = f.epoch + 1, expires_at = {NOW} + %(ttl)s,
    error = '', updated_at = {NOW}
FROM c WHERE f.room_id = c.room_id
RETURNING f.room_id, f.ident, f.epoch
"""
_RENEW = f"""
WITH locked AS (  -- in room order; compatible with the writers' FOR KEY SHARE
    SELECT room_id FROM fleet_rooms WHERE room_id = ANY(%s) ORDER BY room_id FOR NO KEY UPDATE
)
UPDATE fleet_rooms f SET expires_at = {NOW} + %s, lag_ms = u.lag, rate = u.rate,
    stored = u.stored, error = u.err, updated_at = {NOW}
FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::float8[], %s::bigint[], %s::text[])
    AS u(room_id, epoch, lag, rate, stored, err)
WHERE f.room_id = u.room_id AND f.owner = %s AND f.epoch = u.epoch
    AND f.room_id IN (SELECT room_id FROM locked)
RETURNING f.room_id, f.epoch, f.pinned OR f.wanted_until > {NOW}
"""
_WANT = f"""
INSERT INTO fleet_rooms (room_id, ident, pinned, wanted_until, updated_at)
VALUES (%(room)s, %(ident)s, %(pinned)s, {NOW} + %(for_ms)s, {NOW})
ON CONFLICT (room_id) DO UPDATE SET
    ident = CASE WHEN excluded.ident = '' THEN fleet_rooms.ident ELSE excluded.ident END,
    pinned = fleet_rooms.pinned OR excluded.pinned,
    wanted_until = greatest(fleet_rooms.wanted_until, excluded.wanted_until)
"""
_MOVE = f"""
WITH old AS (
    DELETE FROM fleet_rooms WHERE room_id = %(old)s AND owner = %(me)s AND epoch = %(epoch)s
    RETURNING pinned, wanted_until
)
INSERT INTO fleet_rooms (room_id, ident, pinned, wanted_until, updated_at)
SELECT %(new)s, %(ident)s, old.pinned, greatest(old.wanted_until, {NOW} + %(for_ms)s), {NOW}
FROM old
ON CONFLICT (room_id) DO UPDATE SET
    pinned = fleet_rooms.pinned OR excluded.pinned,
    wanted_until = greatest(fleet_rooms.wanted_until, excluded.wanted_until)
RETURNING room_id
"""
_NODE_UPSERT = f"""
INSERT INTO fleet_nodes (node_id, address, version, capacity, started_at, heartbeat_at, state)
VALUES (%s, %s, %s, %s, {NOW}, {NOW}, %s)
ON CONFLICT (node_id) DO UPDATE SET address = excluded.address, version = excluded.version,
    capacity = excluded.capacity, started_at = excluded.started_at,
    heartbeat_at = excluded.heartbeat_at, state = excluded.state
"""
_NODES = f"""
SELECT n.node_id, n.address, n.version, n.capacity, n.started_at, n.heartbeat_at, n.state,
    (SELECT count(*) FROM fleet_rooms r WHERE r.owner = n.node_id AND r.expires_at >= {NOW}),
    {NOW} - n.heartbeat_at
FROM fleet_nodes n ORDER BY n.node_id
"""
_ROOMS = f"""
SELECT room_id, ident, pinned, wanted_until, owner, epoch, expires_at, lag_ms, rate, stored,
    error, updated_at, {NOW}
FROM fleet_rooms ORDER BY room_id
"""


class FleetDB:
    """One autocommit connection (reconnected when broken), used by one node's fleet loop."""

    def __init__(self, url: str, *, connect_timeout: int = 10) -> None:
        self.url = url
        self._connect_timeout = connect_timeout
        self._conn: Conn | None = None
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _connection(self) -> Conn:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                await self._conn.close()
            self._conn = None
            self._conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=self._connect_timeout
            )
        return self._conn

    async def run(self, query: str, args: Any = None, *, rows: bool = True) -> list[Any]:
        """Run one statement (its own transaction); its rows."""
        async with self._lock:
            try:
                conn = await self._connection()
                cur = await conn.execute(query, args)
                return await cur.fetchall() if rows and cur.description else []
            except psycopg.Error as exc:
                raise StoreError(f"fleet: {exc} ({redact(self.url)})") from exc

    # -- nodes --------------------------------------------------------------------------------
    async def register(self, node: NodeRow) -> None:
        await self.run(
            _NODE_UPSERT,
            (node.node_id, node.address, node.version, node.capacity, node.state),
        )

    async def heartbeat(self, node_id: str, address: str, state: str) -> bool:
        """Refresh this node's row; False when it was gone (swept), so the caller registers."""
        rows = await self.run(
            f"UPDATE fleet_nodes SET heartbeat_at = {NOW}, address = %s, state = %s"
            " WHERE node_id = %s RETURNING node_id",
            (address, state, node_id),
        )
        return bool(rows)

    async def nodes(self) -> list[NodeRow]:
        return [NodeRow(*row) for row in await self.run(_NODES)]

    async def forget_nodes(self, silent_ms: int) -> None:
        """Delete nodes silent for ``silent_ms`` (their leases expired long before)."""
        await self.run(f"DELETE FROM fleet_nodes WHERE heartbeat_at < {NOW} - %s", (silent_ms,))

    async def leave(self, node_id: str) -> None:
        await self.run("DELETE FROM fleet_nodes WHERE node_id = %s", (node_id,))

    # -- rooms --------------------------------------------------------------------------------
    async def want(self, room_id: int, ident: str, *, pinned: bool, for_ms: int) -> None:
        """Ask the fleet to collect a room (pinned, or on demand for the next ``for_ms``)."""
        args = {"room": to_signed(room_id), "ident": ident, "pinned": pinned, "for_ms": for_ms}
        await self.run(_WANT, args)
        await self.run("SELECT pg_notify(current_schema() || '_fleet', %s)", (str(room_id),))

    async def move(
        self, node_id: str, room_id: int, epoch: int, new_room_id: int, ident: str, for_ms: int
    ) -> bool:
        """A watched room's next broadcast: its row (pinned, wanted) moves to the new room_id,
        free for placement; False when the lease was not ours any more."""
        args = {
            "old": to_signed(room_id),
            "me": node_id,
            "epoch": epoch,
            "new": to_signed(new_room_id),
            "ident": ident,
            "for_ms": for_ms,
        }
        rows = await self.run(_MOVE, args)
        await self.run("SELECT pg_notify(current_schema() || '_fleet', %s)", (str(new_room_id),))
        return bool(rows)

    async def extend(self, room_ids: Sequence[int], for_ms: int) -> None:
        """Polls of rooms the fleet already has (waiting ones too): still wanted."""
        if room_ids:
            await self.run(
                f"UPDATE fleet_rooms SET wanted_until = greatest(wanted_until, {NOW} + %s)"
                " WHERE room_id = ANY(%s)",
                (for_ms, [to_signed(r) for r in room_ids]),
                rows=False,
            )

    async def unpin(self, room_id: int, for_ms: int) -> None:
        await self.run(
            f"UPDATE fleet_rooms SET pinned = false, wanted_until = {NOW} + %s WHERE room_id = %s",
            (for_ms, to_signed(room_id)),
        )

    async def wanted(self) -> int:
        """How many rooms the fleet should collect (pinned, or polled recently)."""
        rows = await self.run(
            f"SELECT count(*) FROM fleet_rooms WHERE pinned OR wanted_until > {NOW}"
        )
        return int(rows[0][0])

    async def claim(self, node_id: str, n: int, ttl_ms: int) -> list[Lease]:
        """Up to ``n`` wanted rooms that nobody holds (or whose lease expired), now ours."""
        if n <= 0:
            return []
        rows = await self.run(_CLAIM, {"n": n, "me": node_id, "ttl": ttl_ms})
        return [Lease(to_unsigned(r), ident, epoch) for r, ident, epoch in rows]

    async def renew(self, node_id: str, stats: Sequence[RoomStats], ttl_ms: int) -> list[Held]:
        """Extend the leases still ours at the given epochs; the ones that are (others: lost)."""
        if not stats:
            return []
        rows = await self.run(
            _RENEW,
            (
                sorted(to_signed(s.room_id) for s in stats),
                ttl_ms,
                [to_signed(s.room_id) for s in stats],
                [s.epoch for s in stats],
                [s.lag_ms for s in stats],
                [s.rate for s in stats],
                [s.stored for s in stats],
                [s.error[:200] for s in stats],
                node_id,
            ),
        )
        return [Held(to_unsigned(r), int(e), bool(w)) for r, e, w in rows]

    async def release(self, node_id: str, room_id: int, epoch: int, *, drop: bool) -> bool:
        """Give a held room back (hand-off) or drop it (ended / no longer wanted)."""
        signed = to_signed(room_id)
        if drop:
            query = "DELETE FROM fleet_rooms WHERE room_id = %s AND owner = %s AND epoch = %s"
        else:
            query = (
                "UPDATE fleet_rooms SET owner = '', expires_at = 0 WHERE room_id = %s"
                " AND owner = %s AND epoch = %s"
            )
        async with self._lock:
            try:
                conn = await self._connection()
                cur = await conn.execute(query, (signed, node_id, epoch))
                done = cur.rowcount > 0
                await conn.execute(
                    "SELECT pg_notify(current_schema() || '_fleet', %s)", (str(room_id),)
                )
                return done
            except psycopg.Error as exc:
                raise StoreError(f"fleet: {exc}") from exc

    async def forget_rooms(self, grace_ms: int) -> int:
        """Delete on-demand rooms nobody polled for ``grace_ms`` and nobody holds."""
        rows = await self.run(
            "DELETE FROM fleet_rooms WHERE room_id IN (SELECT room_id FROM fleet_rooms"
            f" WHERE NOT pinned AND wanted_until < {NOW} - %s"
            f" AND (owner = '' OR expires_at < {NOW}) FOR UPDATE SKIP LOCKED) RETURNING room_id",
            (grace_ms,),
        )
        return len(rows)

    async def rooms(self) -> list[dict[str, Any]]:
        keys = [
            "room_id",
            "ident",
            "pinned",
            "wanted_until",
            "node",
            "epoch",
            "lease_expires_at",
            "lag_ms",
            "messages_per_second",
            "stored",
            "error",
            "updated_at",
            "now",
        ]
        out = []
        for row in await self.run(_ROOMS):
            item = dict(zip(keys, row, strict=True))
            item["room_id"] = to_unsigned(item["room_id"])
            out.append(item)
        return out

    # -- token room use -----------------------------------------------------------------------
    async def token_rooms(
        self, seen: Sequence[tuple[int, int]], window_ms: int
    ) -> dict[int, set[int]]:
        """Record ``(token_id, room_id)`` polls; every token's rooms polled within the window."""
        if seen:
            await self.run(
                "INSERT INTO fleet_token_rooms (token_id, room_id, seen_at)"
                f" SELECT t, r, {NOW} FROM unnest(%s::bigint[], %s::bigint[]) AS u(t, r)"
                " ON CONFLICT (token_id, room_id) DO UPDATE SET seen_at = excluded.seen_at",
                ([t for t, _ in seen], [to_signed(r) for _, r in seen]),
            )
        out: dict[int, set[int]] = {}
        for token_id, room_id in await self.run(
            f"SELECT token_id, room_id FROM fleet_token_rooms WHERE seen_at > {NOW} - %s",
            (window_ms,),
        ):
            out.setdefault(int(token_id), set()).add(to_unsigned(room_id))
        return out
