"""Pieces both SQL backends share: row mappers, the queued write operation, settling a batch.

Both stores funnel writes through one writer task that runs a batch of ``WriteOp`` in one
transaction, then ``settle`` hands each caller its result and reports the rooms to wake.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from dylive.store.health import WriterProgress
from dylive.store.migrations import to_signed, to_unsigned
from dylive.store.records import (
    IdentityRecord,
    QuarantinedMessage,
    Quota,
    Record,
    RoomRecord,
    StoredMessage,
    TokenNameTaken,
    TokenRecord,
    UpstreamPosition,
)

log = logging.getLogger(__name__)

F = TypeVar("F")


@dataclass(slots=True)
class WriteOp(Generic[F]):
    """One queued write: the function run in the writer's transaction and who waits for it."""

    fn: F
    future: asyncio.Future[Any] | None
    rooms: tuple[int, ...] = field(default=())
    events: bool = False  # inserts messages (PostgreSQL takes its seq-ordering lock)
    queued_at: float = field(default_factory=time.monotonic)
    #: SQLite: ``fn`` changes nothing but the database (no state outside the transaction), so
    #: it may run without a savepoint of its own and run again if its batch is retried (one
    #: statement and its result always is: SQLite undoes a failed statement by itself). A batch
    #: with one op that is not pure runs every op under a savepoint (``SQLiteEngine._run_batch``)
    pure: bool = False


async def drain_batches(
    queue: asyncio.Queue[WriteOp[F] | None],
    max_batch: int,
    progress: WriterProgress,
    interval: float = 0.0,
) -> AsyncIterator[list[WriteOp[F]]]:
    """The writer task's batches: the next op and whatever else is already queued (up to
    ``max_batch``), until the ``None`` that closes the queue (the ops before it still form a
    last batch). ``progress`` follows the batch being run (see :mod:`dylive.store.health`).

    Group commit: while writes come from several callers at once (the previous batch held more
    than one op), a batch starts at most every ``interval`` seconds, so the ops of that span
    share one transaction: at 200 rooms a commit of 3 rows costs the writer thread about twice
    as much per row as a commit of 50 (``bench/api.py c``). A lone caller that awaits each
    write (one op per batch) is never held back."""
    loop = asyncio.get_running_loop()
    stop = False
    started = 0.0
    crowded = False
    while not stop:
        op = await queue.get()
        if op is None:
            return
        if crowded and interval > 0 and queue.qsize() < max_batch:
            delay = started + interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        batch = [op]
        while len(batch) < max_batch and not queue.empty():
            nxt = queue.get_nowait()
            if nxt is None:
                stop = True
                break
            batch.append(nxt)
        started = loop.time()
        crowded = len(batch) > 1
        progress.running([o.queued_at for o in batch])
        try:
            yield batch
        finally:
            progress.idle()


def settle(batch: Sequence[WriteOp[Any]], results: Sequence[Any], backend: str) -> set[int]:
    """Resolve each op's future with its result (or exception); the rooms the batch touched."""
    touched: set[int] = set()
    for op, result in zip(batch, results, strict=True):
        touched.update(op.rooms)
        if op.future is None or op.future.done():
            if isinstance(result, Exception):
                log.error("%s: unawaited write failed: %s", backend, result)
            continue
        if isinstance(result, Exception):
            op.future.set_exception(result)
        else:
            op.future.set_result(result)
    return touched


def name_taken(name: str, token_id: int) -> TokenNameTaken:
    """The error a token insert returns (not raises: one op fails alone) for a taken name."""
    return TokenNameTaken(f"an active token is already named {name!r} (id {token_id})")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


#: Columns of ``rooms`` in the order of :func:`room_values` / :func:`room_from_row`.
ROOM_COLS = (
    "room_id, web_rid, status, anchor_uid, anchor_sec_uid, anchor_nickname, title, updated_at"
)
#: Columns of ``tokens`` in the order of :func:`token_from_row`.
TOKEN_COLS = (
    "id, name, digest, room_limit, rate, created_at, revoked_at, expires_at,"
    " requests_per_day, requests_per_month, messages_per_day, messages_per_month"
)


def room_values(room: RoomRecord) -> tuple[Any, ...]:
    """The rooms-table row of ``room`` (ids mapped to signed 64 bits, updated_at defaulted)."""
    return (
        to_signed(room.room_id),
        room.web_rid,
        room.status,
        to_signed(room.anchor_uid),
        room.anchor_sec_uid,
        room.anchor_nickname,
        room.title,
        room.updated_at or now_ms(),
    )


def message_from_row(row: Sequence[Any]) -> StoredMessage:
    """(seq, room_id, msg_id, method, created_at, stored_at, rendered) → StoredMessage."""
    return StoredMessage(
        seq=row[0],
        room_id=to_unsigned(row[1]),
        msg_id=to_unsigned(row[2]),
        method=row[3],
        created_at=row[4],
        stored_at=row[5],
        rendered=bytes(row[6]),
    )


def room_from_row(row: Sequence[Any]) -> RoomRecord:
    """(room_id, web_rid, status, anchor_uid, sec_uid, nickname, title, updated_at) → RoomRecord."""
    room_id, web_rid, status, anchor_uid, *rest = row
    return RoomRecord(to_unsigned(room_id), web_rid, status, to_unsigned(anchor_uid), *rest)


def token_from_row(row: Sequence[Any]) -> TokenRecord:
    """A row of :data:`TOKEN_COLS` → TokenRecord."""
    token_id, name, digest, room_limit, rate, created_at, revoked_at, expires_at = row[:8]
    return TokenRecord(
        token_id,
        name,
        digest,
        room_limit,
        rate,
        created_at,
        revoked_at,
        expires_at,
        Quota(*row[8:12]),
    )


#: Columns of ``upstream_positions`` in the order of :func:`position_values`.
POSITION_COLS = "room_id, transport, cursor, internal_ext, push_server, last_msg_id, updated_at"


def position_values(pos: UpstreamPosition) -> tuple[Any, ...]:
    """The ``upstream_positions`` row of ``pos`` (ids signed, updated_at defaulted to now)."""
    return (
        to_signed(pos.room_id),
        pos.transport,
        pos.cursor,
        pos.internal_ext,
        pos.push_server,
        to_signed(pos.last_msg_id),
        pos.updated_at or now_ms(),
    )


def position_from_row(row: Sequence[Any]) -> UpstreamPosition:
    room_id, transport, cursor, ext, push_server, last_msg_id, updated_at = row
    return UpstreamPosition(
        to_unsigned(room_id),
        transport,
        cursor,
        ext,
        push_server,
        to_unsigned(last_msg_id),
        updated_at,
    )


#: Columns of ``quarantine`` read back by :func:`quarantined_from_row`.
QUARANTINE_COLS = "id, room_id, msg_id, method, raw, error, stored_at"


def quarantine_values(record: Record, error: str) -> tuple[Any, ...]:
    """(room_id, msg_id, method, raw, error, stored_at); msg_id as text (it may be the poison),
    method and error as bytes: any text, NUL and lone surrogates included, is kept."""
    return (
        to_signed(record.room_id),
        str(record.msg_id),
        any_text_bytes(record.method),
        record.raw,
        any_text_bytes(error[:2000]),
        now_ms(),
    )


def any_text_bytes(text: str) -> bytes:
    """``text`` as bytes, whatever it holds (the inverse of :func:`any_text`)."""
    return text.encode("utf-8", "surrogatepass")


def any_text(data: bytes | str) -> str:
    """Text stored by :func:`any_text_bytes` (or as text by an older schema version)."""
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:  # not written by any_text_bytes: show it, never fail the read
        return bytes(data).decode("utf-8", "replace")


def quarantined_from_row(row: Sequence[Any]) -> QuarantinedMessage:
    ident, room_id, msg_id, method, raw, error, stored_at = row
    return QuarantinedMessage(
        ident,
        to_unsigned(room_id),
        int(msg_id),
        any_text(method),
        bytes(raw),
        any_text(error),
        stored_at,
    )


#: Column list of the identities table, in IdentityRecord field order.
IDENTITY_COLS = (
    "name, cookie, proxy, user_agent, max_rooms, created_at, state, cooldown_until, strikes, note"
)


def identity_row(r: IdentityRecord) -> tuple[Any, ...]:
    return (
        r.name, r.cookie, r.proxy, r.user_agent, r.max_rooms, r.created_at or now_ms(),
        r.state, r.cooldown_until, r.strikes, r.note,
    )  # fmt: skip
