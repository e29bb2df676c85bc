"""Retention: what ``dylive serve`` deletes periodically, each part on its own setting (0 = keep
forever): stored messages (``retention_hours``), usage counters and room uses
(``usage_retention_days``) and admin audit entries (``audit_retention_days``).

The store deletes messages, usage rows and audit entries in bounded batches (see
:meth:`dylive.store.EventLog.prune`, :meth:`dylive.store.Usage.prune_usage`), so a large first
pass never holds the writer long: collection's appends commit between the batches. Usage
rows are deleted by their hour, and never those of the current UTC day or month: the quotas
(:mod:`dylive.app.quotas`) count them, whatever the setting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple

from dylive.errors import StoreError
from dylive.store import EventStore

from .quotas import DAY_MS, month_start
from .usage import HOUR_MS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kind of row is kept (0 = forever)."""

    message_hours: float = 0.0
    usage_days: float = 0.0
    audit_days: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.message_hours > 0 or self.usage_days > 0 or self.audit_days > 0)


class Pruned(NamedTuple):
    """Rows one retention pass deleted."""

    messages: int = 0
    usage: int = 0
    audit: int = 0


def before(now_ms: int, span_ms: float) -> int:
    """``span_ms`` before ``now_ms``, not before the epoch (a huge or infinite retention
    deletes nothing)."""
    return int(max(0.0, now_ms - span_ms))


def usage_cutoff(now_ms: int, days: float) -> int:
    """Usage rows of hours before this are deleted: ``days`` back, down to an hour start (a row
    counts a whole hour), and never after the start of the current UTC month (the month's
    quotas count its rows)."""
    cutoff = before(now_ms, days * DAY_MS)
    return min(cutoff - cutoff % HOUR_MS, month_start(now_ms))


async def prune(store: EventStore, retention: Retention, now_ms: int) -> Pruned:
    """One retention pass: each kind whose retention is set; a store failure is logged and the
    other kinds still run (the next pass tries again)."""
    messages = usage = audit = 0
    if retention.message_hours > 0:
        cutoff = before(now_ms, retention.message_hours * HOUR_MS)
        messages = await _guarded("messages", store.prune(cutoff))
    if retention.usage_days > 0:
        usage = await _guarded(
            "usage", store.prune_usage(usage_cutoff(now_ms, retention.usage_days))
        )
    if retention.audit_days > 0:
        cutoff = before(now_ms, retention.audit_days * DAY_MS)
        audit = await _guarded("audit", store.prune_audit(cutoff))
    return Pruned(messages, usage, audit)


async def _guarded(what: str, deleting: Awaitable[int]) -> int:
    try:
        return await deleting
    except StoreError as exc:
        log.warning("retention: %s not deleted: %s", what, exc)
        return 0


async def run_retention(
    store: EventStore,
    retention: Retention,
    interval: float,
    clock: Callable[[], float] = time.time,
) -> None:
    """Run a retention pass now and every ``interval`` seconds (until cancelled)."""
    while True:
        try:
            done = await prune(store, retention, int(clock() * 1000))
        except Exception:  # a bug must not end retention for good: logged, tried again
            log.exception("retention: pass failed")
            done = Pruned()
        if any(done):
            log.info(
                "retention: deleted %s messages, %s usage rows, %s audit entries",
                done.messages,
                done.usage,
                done.audit,
            )
        await asyncio.sleep(interval)
