"""What both backends share for the usage concern: the columns and row values of
``token_usage`` and ``admin_audit``; and retention's batched deletes (:func:`delete_in_batches`),
which message retention (``EventLog.prune``) goes through too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .records import UsageRow

#: Columns of ``token_usage`` in the order of :class:`~dylive.store.records.UsageRow`.
USAGE_COLS = "token_id, hour, endpoint, code, requests, messages, bytes"
#: Columns of ``admin_audit`` in the order of :class:`~dylive.store.records.AuditEntry`.
AUDIT_COLS = "id, at, actor, action, target, code, detail"


def usage_values(row: UsageRow) -> tuple[Any, ...]:
    return (
        row.token_id,
        row.hour,
        row.endpoint,
        row.code,
        row.requests,
        row.messages,
        row.bytes,
    )


#: Rows one retention delete removes at most: each batch is its own write (its own
#: transaction), so other writes get in between and a big delete never holds the writer long.
PRUNE_BATCH = 5000
#: The same for stored messages (``EventLog.prune``): a message costs several times a usage row
#: to delete (its ~1.5 KB row, its unique key and its page index entry): ~8 ms a batch of
#: 1,000 on SQLite with the covering page index of migrations 5-14 (docs/benchmarks.md,
#: "Retention of messages").
PRUNE_MESSAGES_BATCH = 1000


#: What usage retention deletes, by hour: (table, primary key columns).
USAGE_TABLES = (
    ("token_usage", "token_id, hour, endpoint, code"),
    ("token_usage_rooms", "token_id, hour, room_id"),
)


async def delete_in_batches(
    delete: Callable[[str, tuple[int, ...]], Awaitable[int]],
    statements: tuple[str, ...],
    bounds: tuple[int, ...],
    batch: int,
    deleted_some: Callable[[], None] | None = None,
) -> int:
    """Run each batched delete until a batch removes fewer than ``batch`` rows; the total.

    ``delete(sql, (*bounds, batch))`` runs one batch as its own write: a statement whose last
    parameter is the batch's row limit, after ``bounds`` (a cutoff, or several).
    ``deleted_some`` runs after each batch that removed rows (message retention: the tail cache
    forgets them before anything else reads it)."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, not {batch}")
    args = (*bounds, batch)
    total = 0
    for sql in statements:
        while True:
            deleted = await delete(sql, args)
            if deleted and deleted_some is not None:
                deleted_some()
            total += deleted
            if deleted < batch:
                break
    return total
