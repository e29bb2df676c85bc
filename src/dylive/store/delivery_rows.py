"""Row mappers and column lists for the delivery tables, shared by both SQL backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from .base import DeadLetter, WebhookRecord
from .migrations import to_signed, to_unsigned

LETTER_COLS = "id, consumer, room_id, first_seq, last_seq, count, error, attempts, created_at, body"
HOOK_COLS = (
    "id, token_id, url, secret, rooms, methods, batch_size, batch_ms, created_at,"
    " paused_at, pause_reason, previous_secret, previous_until"
)
HOOK_INSERT_COLS = (
    "token_id, url, secret, rooms, methods, batch_size, batch_ms, created_at, paused_at,"
    " pause_reason"
)


def letter_values(letter: DeadLetter, created_at: int) -> tuple[Any, ...]:
    """The dead_letters row of ``letter`` without its id."""
    return (
        letter.consumer,
        to_signed(letter.room_id),
        letter.first_seq,
        letter.last_seq,
        letter.count,
        letter.error,
        letter.attempts,
        letter.created_at or created_at,
        letter.body,
    )


def letter_from_row(row: Sequence[Any]) -> DeadLetter:
    ident, consumer, room_id, first, last, count, error, attempts, created_at, body = row
    return DeadLetter(
        ident,
        consumer,
        to_unsigned(room_id),
        first,
        last,
        count,
        error,
        attempts,
        created_at,
        bytes(body),
    )


def hook_values(hook: WebhookRecord, created_at: int) -> tuple[Any, ...]:
    """The webhooks row of ``hook`` without its id (rooms and methods as JSON arrays)."""
    return (
        hook.token_id,
        hook.url,
        hook.secret,
        orjson.dumps(list(hook.rooms)).decode(),
        orjson.dumps(list(hook.methods)).decode(),
        hook.batch_size,
        hook.batch_ms,
        hook.created_at or created_at,
        hook.paused_at,
        hook.pause_reason,
    )


def hook_from_row(row: Sequence[Any]) -> WebhookRecord:
    ident, token_id, url, secret, rooms, methods, size, ms, created_at, paused_at, reason = row[:11]
    previous_secret, previous_until = row[11:]
    return WebhookRecord(
        id=ident,
        token_id=token_id,
        url=url,
        secret=secret,
        rooms=tuple(str(r) for r in orjson.loads(rooms)),
        methods=tuple(str(m) for m in orjson.loads(methods)),
        batch_size=size,
        batch_ms=ms,
        created_at=created_at,
        paused_at=paused_at,
        pause_reason=reason,
        previous_secret=previous_secret,
        previous_until=previous_until,
    )
