"""PostgreSQL appends: every append of one writer transaction in one statement.

The writer batches whatever is queued into one transaction. The appends of a batch (records,
the room's upstream position, the lease fence) are not run one by one (three round trips each)
but combined into *rounds*, and each round is one ``INSERT … SELECT FROM unnest(…)`` statement
with everything in it:

- **Fencing.** The lease rows of the round's fenced rooms are share-locked (``FOR KEY SHARE``,
  in room order) and compared with each append's ``Fence(node, epoch)``; an append whose fence
  does not match inserts nothing and is answered :class:`~dylive.errors.LeaseLost` while the
  others go on. The rows stay locked until the transaction ends. ``owner`` and ``epoch`` are
  key columns (a unique index holds them), so a takeover or release — an ``UPDATE`` of them,
  which takes ``FOR UPDATE`` — commits either before the check or after the batch, never in
  between; a renewal updates only non-key columns (``FOR NO KEY UPDATE``) and neither waits for
  the writers nor makes them wait.
- **Positions.** The upstream position of each accepted append is upserted in the same
  statement, so a stored batch and its resume point commit together.
- **Duplicates.** A record whose (room, msg_id) is stored already is skipped by an anti-join
  (``NOT EXISTS``), not by ``ON CONFLICT DO NOTHING``: an ``ON CONFLICT`` insert is speculative
  and writes one more WAL record a row to confirm it (48 bytes, ~4 % of a row's WAL, measured
  by ``bench/pg_indexes.py``). The anti-join is exact because every insert into a room holds
  the room's ordering lock (below) and runs in READ COMMITTED (the writer's connection sets
  it, whatever the server's default; each statement sees what committed before it started, so
  after the lock): another transaction inserting the same message has committed before this
  statement starts. Duplicates within one append are dropped before the statement (a round
  holds one append a room). The unique index still stands behind it (a duplicate would be a
  unique violation, an error, never a stored duplicate).
- **Notifications.** ``pg_notify(<channel>, '<room>:<max seq>')`` once per room.

A round holds at most one append per room (a room's later append goes to a later round), so
each room's result (inserted count, highest seq) is the result of exactly one append, and the
upsert never touches a position row twice.

**Commit-ordered seq, per room.** ``seq`` comes from one sequence shared by every room, and
readers page a room with ``seq > last``. A row must never become visible after a row of the
same room with a higher seq, or a reader would skip it. Before inserting, the transaction
takes a transaction-level advisory lock per room it writes (keys in sorted order, one
statement): two transactions writing one room are serialised from the sequence draw to the
commit, while transactions writing different rooms — every node of a fleet writes its own
rooms — commit in parallel (and share the server's group commit). Only the order *within a
room* is guaranteed; a reader spanning several rooms (the tail cache's sync) must track the
last seq per room.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from dylive.errors import LeaseLost

from ..migrations import to_signed, to_unsigned
from ..records import Fence, Record
from ..rows import now_ms

Conn = psycopg.AsyncConnection[Any]

_LOCK = "SELECT pg_advisory_xact_lock(k) FROM unnest(%b::bigint[]) AS k"

_LOCK_LEASES = "SELECT 1 FROM fleet_rooms WHERE room_id = ANY(%b) ORDER BY room_id FOR KEY SHARE"

_ROUND = """
WITH src AS MATERIALIZED (
    SELECT * FROM unnest(%(op)b::int4[], %(room)b::int8[], %(msg)b::int8[], %(method)b::text[],
        %(created)b::int8[], %(rendered)b::bytea[], %(raw)b::bytea[])
        AS t(op, r, m, me, c, re, ra)
), fence AS MATERIALIZED (
    SELECT * FROM unnest(%(f_op)b::int4[], %(f_room)b::int8[], %(f_node)b::text[],
        %(f_epoch)b::int8[]) AS f(op, room, node, epoch)
), lease AS MATERIALIZED (
    SELECT room_id, owner, epoch FROM fleet_rooms
    WHERE room_id = ANY(%(f_room)b::int8[]) ORDER BY room_id FOR KEY SHARE
), refused AS MATERIALIZED (
    SELECT f.op FROM fence f LEFT JOIN lease l ON l.room_id = f.room
    WHERE l.room_id IS NULL OR l.owner <> f.node OR l.epoch <> f.epoch
), ins AS (
    INSERT INTO events (room_id, msg_id, method, created_at, stored_at, rendered, raw)
    SELECT r, m, me, c, %(stored_at)s, re, ra FROM src
    WHERE op NOT IN (SELECT op FROM refused)
        AND NOT EXISTS (SELECT 1 FROM events AS e WHERE e.room_id = src.r AND e.msg_id = src.m)
    RETURNING room_id, seq
), pos AS (
    INSERT INTO upstream_positions
        (room_id, transport, cursor, internal_ext, push_server, last_msg_id, updated_at)
    SELECT room_id, transport, cursor, internal_ext, push_server, last_msg_id, updated_at
    FROM unnest(%(p_op)b::int4[], %(p_room)b::int8[], %(p_transport)b::text[],
        %(p_cursor)b::text[], %(p_ext)b::text[], %(p_push)b::text[], %(p_last)b::int8[],
        %(p_updated)b::int8[])
        AS p(op, room_id, transport, cursor, internal_ext, push_server, last_msg_id, updated_at)
    WHERE op NOT IN (SELECT op FROM refused)
    ON CONFLICT (room_id) DO UPDATE SET transport = excluded.transport,
        cursor = excluded.cursor, internal_ext = excluded.internal_ext,
        push_server = excluded.push_server, last_msg_id = excluded.last_msg_id,
        updated_at = excluded.updated_at
)
SELECT 0, room_id, max(seq), count(*),
    pg_notify(%(channel)s, room_id::text || ':' || max(seq)::text)::text
FROM ins GROUP BY room_id
UNION ALL
SELECT 1, op, 0, 0, '' FROM refused
"""


_RECORD_ARRAYS = ("op", "room", "msg", "method", "created", "rendered", "raw")
_FENCE_ARRAYS = ("f_op", "f_room", "f_node", "f_epoch")
_POSITION_ARRAYS = ("p_room", "p_transport", "p_cursor", "p_ext", "p_push", "p_last", "p_updated")
_ARRAYS = (*_RECORD_ARRAYS, *_FENCE_ARRAYS, "p_op", *_POSITION_ARRAYS)


@dataclass(eq=False, slots=True)
class Append:
    """One ``append`` call: records (any rooms), the upstream position, the fence of the room
    ``fenced``. Callable as a write function of its own (a batch of one)."""

    channel: str  # the NOTIFY channel of the schema
    salt: int  # the schema's lock-key salt (schema_salt)
    records: Sequence[Record]
    position: tuple[Any, ...] | None  # an upstream_positions row (position_values)
    fence: Fence | None
    fenced: int
    rooms: frozenset[int] = frozenset()
    heads: list[tuple[int, int]] = field(default_factory=list)  # (room, max seq) once run

    def __post_init__(self) -> None:
        rooms = {r.room_id for r in self.records}
        if self.position is not None:
            rooms.add(to_unsigned(self.position[0]))
        self.rooms = frozenset(rooms)

    async def __call__(self, conn: Conn) -> int | LeaseLost:
        await lock_rooms(conn, [self])
        (result,) = await run_appends(conn, [self])
        return result


def lock_key(salt: int, room_id: int) -> int:
    """The advisory-lock key that orders the inserts of ``room_id`` (unsigned) in the schema
    whose ``salt`` is given: a bijection of the room id, so two rooms never share a key."""
    return to_signed((room_id * 0x9E3779B97F4A7C15 + salt) & 0xFFFF_FFFF_FFFF_FFFF)


def schema_salt(schema: str) -> int:
    """Keys differ between schemas of one database (each has its own rooms)."""
    return zlib.crc32(schema.encode()) << 32


async def lock_rooms(conn: Conn, appends: Sequence[Append]) -> None:
    """Take the per-room ordering locks of ``appends`` (sorted keys: no deadlock between
    transactions), and when the appends need more than one round, share-lock every fenced
    lease row up front in room order (each round's own ``FOR KEY SHARE`` then finds them
    held)."""
    rooms = {r for a in appends if a.records for r in a.rooms}
    if rooms:
        salt = appends[0].salt
        keys = sorted(lock_key(salt, r) for r in rooms)
        await conn.execute(_LOCK, (keys,))
    if len(rounds(appends)) > 1:
        fenced = sorted({to_signed(a.fenced) for a in appends if a.fence is not None})
        if fenced:
            await conn.execute(_LOCK_LEASES, (fenced,))


def rounds(appends: Sequence[Append]) -> list[list[Append]]:
    """Appends grouped so that no room appears twice in a round; a room's appends keep their
    order (an append goes one round after the last round holding any of its rooms)."""
    out: list[list[Append]] = []
    last: dict[int, int] = {}
    for a in appends:
        index = 1 + max((last.get(r, -1) for r in a.rooms), default=-1)
        if index == len(out):
            out.append([])
        out[index].append(a)
        for r in a.rooms:
            last[r] = index
    return out


async def run_appends(conn: Conn, appends: Sequence[Append]) -> list[int | LeaseLost]:
    """Run ``appends`` (ordering locks already taken) round by round; each append's result:
    the number of records inserted (duplicates are skipped) or :class:`LeaseLost`."""
    results: dict[int, int | LeaseLost] = {}
    for group in rounds(appends):
        for a, result in zip(group, await _round(conn, group), strict=True):
            results[id(a)] = result
    return [results[id(a)] for a in appends]


async def _round(conn: Conn, group: Sequence[Append]) -> list[int | LeaseLost]:
    args: dict[str, Any] = {key: [] for key in _ARRAYS}
    owner: dict[int, int] = {}  # room -> index of the append in the group
    seen: set[tuple[int, int]] = set()
    for i, a in enumerate(group):
        a.heads.clear()
        for r in a.rooms:
            owner[r] = i
        for rec in a.records:
            if (rec.room_id, rec.msg_id) in seen:
                continue  # a duplicate within the append (rounds hold one append a room)
            seen.add((rec.room_id, rec.msg_id))
            args["op"].append(i)
            args["room"].append(to_signed(rec.room_id))
            args["msg"].append(to_signed(rec.msg_id))
            args["method"].append(rec.method)
            args["created"].append(rec.created_at)
            args["rendered"].append(rec.rendered)
            args["raw"].append(rec.raw)
        if a.fence is not None:
            args["f_op"].append(i)
            args["f_room"].append(to_signed(a.fenced))
            args["f_node"].append(a.fence.node)
            args["f_epoch"].append(a.fence.epoch)
        if a.position is not None:
            args["p_op"].append(i)
            for key, value in zip(_POSITION_ARRAYS, a.position, strict=True):
                args[key].append(value)
    args["stored_at"] = now_ms()
    args["channel"] = group[0].channel
    cur = await conn.execute(_ROUND, args)
    counts = [0] * len(group)
    refused: set[int] = set()
    for kind, key, top, count, _ in await cur.fetchall():
        if kind == 1:
            refused.add(int(key))
            continue
        room_id = to_unsigned(int(key))
        i = owner[room_id]
        counts[i] += int(count)
        group[i].heads.append((room_id, int(top)))
    return [
        LeaseLost(a.fenced, a.fence.node, a.fence.epoch)
        if i in refused and a.fence is not None
        else counts[i]
        for i, a in enumerate(group)
    ]
