"""Retention of usage counters and audit entries (dylive.app.retention) on both backends: older
rows go, newer stay, the current month's quotas never lose a row, and the service's loop runs it."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from support.waiting import until

from dylive.app.config import ServiceConfig
from dylive.app.quotas import DAY_MS, Quotas
from dylive.app.retention import Pruned, Retention, prune, usage_cutoff
from dylive.app.service import Service
from dylive.app.usage import HOUR_MS, Meter
from dylive.store import AuditEntry, Quota, TokenRecord, UsageRow, open_store


def utc_ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp() * 1000)


NOW = utc_ms(2026, 3, 15, 12, 30)  # mid-month, mid-hour
MARCH = utc_ms(2026, 3, 1)


def test_the_usage_cutoff_is_an_hour_start_never_inside_the_month() -> None:
    # 20 days back: 2026-02-23 12:30, down to the hour
    assert usage_cutoff(NOW, 20) == utc_ms(2026, 2, 23, 12)
    # never inside the current month: its rows stay (its quotas count them)
    assert usage_cutoff(NOW, 10) == usage_cutoff(NOW, 0.5) == MARCH
    assert usage_cutoff(NOW, 400) == NOW - 400 * DAY_MS - 30 * 60_000
    assert usage_cutoff(NOW, 1e9) == usage_cutoff(NOW, float("inf")) == 0  # nothing goes


def test_retention_is_on_when_any_part_is() -> None:
    assert not Retention()
    assert Retention(usage_days=1) and Retention(audit_days=0.5) and Retention(message_hours=2)


async def test_old_usage_and_audit_rows_go_newer_stay(store_url: str) -> None:
    old, kept = utc_ms(2026, 2, 20, 7), utc_ms(2026, 3, 1)  # February's go, March's stay
    async with open_store(store_url) as store:
        await store.add_usage(
            [
                UsageRow(1, old, "chat", 200, 3, 30, 300),
                UsageRow(1, old + HOUR_MS, "chat", 200, 1, 10, 100),
                UsageRow(1, kept, "chat", 200, 2, 20, 200),
                UsageRow(2, NOW - NOW % HOUR_MS, "rooms", 200, 1, 0, 50),
            ],
            [(1, old, 7), (1, kept, 7)],
        )
        for at, action in ((NOW - 3 * DAY_MS, "old"), (NOW - DAY_MS // 2, "new")):
            await store.add_audit(AuditEntry(0, at, "127.0.0.1", action, "", 200, ""))
        done = await prune(store, Retention(usage_days=1, audit_days=1), NOW)
        assert done == Pruned(messages=0, usage=3, audit=1)
        left = await store.usage(None, 0, 2**62)
        assert [(r.token_id, r.hour) for r in left] == [(1, kept), (2, NOW - NOW % HOUR_MS)]
        assert await store.usage_rooms(None, 0, 2**62) == [(1, kept, 7)]
        assert [e.action for e in await store.audit()] == ["new"]
        # a second pass finds nothing more to delete
        assert await prune(store, Retention(usage_days=30, audit_days=2), NOW) == Pruned()
        # 0 keeps forever: the audit log is kept whatever its age
        await store.add_audit(AuditEntry(0, 1, "127.0.0.1", "ancient", "", 200, ""))
        assert await prune(store, Retention(usage_days=1), NOW) == Pruned()
        assert [e.action for e in await store.audit()] == ["ancient", "new"]  # by id
        # an infinite retention deletes nothing (no overflow)
        forever = Retention(message_hours=float("inf"), usage_days=1e300, audit_days=float("inf"))
        assert await prune(store, forever, NOW) == Pruned()


async def test_quotas_are_the_same_across_the_cutoff(store_url: str) -> None:
    async with open_store(store_url) as store:
        meter = Meter(store, interval=60, clock=lambda: NOW / 1000)
        quota = Quota(requests_per_day=100, requests_per_month=6, messages_per_month=1000)
        record = TokenRecord(5, "t", "e" * 64, 0, 0.0, 0, quota=quota)
        await store.add_usage(
            [
                UsageRow(5, utc_ms(2026, 2, 28, 23), "chat", 200, 50, 500, 0),  # last month
                UsageRow(5, MARCH, "chat", 200, 2, 20, 0),  # the month's first hour
                UsageRow(5, utc_ms(2026, 3, 14, 23), "chat", 200, 3, 30, 0),  # yesterday
            ]
        )
        meter.count(5, "chat", 200, messages=4)  # this process, not flushed yet
        before = await Quotas(store, meter).used(record)
        assert (before.requests_month, before.messages_month) == (6, 54)
        # the shortest retention: February goes, the month and the day are whole
        assert (await prune(store, Retention(usage_days=0.01), NOW)).usage == 1
        book = Quotas(store, meter)
        after = await book.used(record)
        assert (after.requests_month, after.messages_month) == (6, 54)
        assert (after.requests_day, after.messages_day) == (1, 4)
        refusal = await book.check(record)
        assert refusal is not None and refusal.quota == "requests_per_month"


async def test_the_service_loop_prunes_periodically(
    store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dylive.app.retention")
    old = utc_ms(2020, 1, 1)
    config = ServiceConfig(
        db=store_url,
        ranklist=False,
        fleet=False,
        usage_retention_days=30,
        audit_retention_days=30,
        retention_interval=0.05,
    )
    svc = Service(config)
    await svc.start()
    try:
        store = svc.store
        await store.add_usage([UsageRow(1, old, "chat", 200, 1, 0, 0)], [(1, old, 9)])
        await store.add_audit(AuditEntry(0, old, "127.0.0.1", "old", "", 200, ""))
        await store.add_audit(AuditEntry(0, utc_ms(2099, 1, 1), "127.0.0.1", "new", "", 200, ""))

        async def pruned() -> bool:
            audit = [e.action for e in await store.audit()]
            return not await store.usage(None, 0, 2**62) and audit == ["new"]

        await until(pruned, 30, "old usage and audit rows deleted by the loop")
        assert not await store.usage_rooms(None, 0, 2**62)
        # the loop goes on: a row written later goes too
        await store.add_usage([UsageRow(2, old, "chat", 200, 1, 0, 0)])
        await until(pruned, 30, "a later old row deleted by the loop")
        assert "retention: deleted 0 messages, " in caplog.text
    finally:
        await svc.stop()
