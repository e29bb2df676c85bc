"""Contract tests of the Usage concern (usage counters, room uses, the admin audit log) and of
token expiry and quotas, on both backends."""

from __future__ import annotations

import asyncio

from dylive.store import AuditEntry, Quota, UsageRow, open_store

H = 3_600_000
T0 = 1_780_000_000_000 - 1_780_000_000_000 % H  # an hour start


async def test_usage_rows_add_up_and_read_back(store_url: str) -> None:
    async with open_store(store_url) as store:
        rows = [
            UsageRow(1, T0, "chat", 200, 3, 120, 9000),
            UsageRow(1, T0, "chat", 40005, 1, 0, 80),
            UsageRow(2, T0 + H, "audience", 200, 1, 0, 500),
        ]
        await store.add_usage(rows, [(1, T0, 2**63 + 5), (1, T0, 7)])
        # a second writer (another node, a later flush) adds to the same keys
        await asyncio.gather(
            store.add_usage([UsageRow(1, T0, "chat", 200, 2, 80, 6000)], [(1, T0, 7)]),
            store.add_usage([UsageRow(1, T0 + H, "webhook", 200, 0, 40, 0)]),
        )
        got = await store.usage(1, T0, T0 + 2 * H)
        assert got == [
            UsageRow(1, T0, "chat", 200, 5, 200, 15000),
            UsageRow(1, T0, "chat", 40005, 1, 0, 80),
            UsageRow(1, T0 + H, "webhook", 200, 0, 40, 0),
        ]
        every = await store.usage(None, T0, T0 + 2 * H)
        assert [r.token_id for r in every] == [1, 1, 1, 2]
        assert await store.usage(None, T0 + 2 * H, T0 + 3 * H) == []
        rooms = await store.usage_rooms(1, T0, T0 + H)
        assert sorted(rooms) == [(1, T0, 7), (1, T0, 2**63 + 5)]
        totals = await store.usage_totals([1, 2, 3], T0)
        assert totals == {1: (5, 240), 2: (1, 0)}
        assert await store.usage_totals([1], T0 + H) == {1: (0, 40)}
        assert await store.usage_totals([], T0) == {}
    async with open_store(store_url) as store:  # durable
        assert len(await store.usage(None, 0, T0 + 10 * H)) == 4


async def test_audit_log_newest_first(store_url: str) -> None:
    async with open_store(store_url) as store:
        ids = [
            await store.add_audit(AuditEntry(0, T0 + i, "127.0.0.1", f"a{i}", "t", 200, "d"))
            for i in range(5)
        ]
        assert ids == sorted(ids) and len(set(ids)) == 5
        latest = await store.audit(3)
        assert [e.action for e in latest] == ["a4", "a3", "a2"]
        older = await store.audit(10, before_id=latest[-1].id)
        assert [e.action for e in older] == ["a1", "a0"]
        assert older[0] == AuditEntry(ids[1], T0 + 1, "127.0.0.1", "a1", "t", 200, "d")


async def test_token_expiry_and_quota_are_stored(store_url: str) -> None:
    quota = Quota(requests_per_day=10, requests_per_month=100, messages_per_day=5000)
    async with open_store(store_url) as store:
        plain = await store.create_token("plain", "a" * 64, 2, 0.0)
        planned = await store.create_token(
            "planned", "b" * 64, 3, 1.5, expires_at=T0 + 5, quota=quota
        )
    async with open_store(store_url) as store:
        records = {r.id: r for r in await store.list_tokens()}
        assert records[plain].quota == Quota() and not records[plain].quota
        assert records[plain].expires_at == 0 and not records[plain].expired(T0)
        got = await store.token_by_digest("b" * 64)
        assert got is not None and got.id == planned
        assert got.quota == quota and got.expires_at == T0 + 5 and got.rate == 1.5
        assert not got.expired(T0 + 4) and got.expired(T0 + 5)


async def test_prune_usage_deletes_older_hours_in_batches(store_url: str) -> None:
    async with open_store(store_url) as store:
        rows = [UsageRow(t, T0 + h * H, "chat", 200, 1, 10, 100) for t in (1, 2) for h in range(5)]
        rooms = [(t, T0 + h * H, 2**63 + h) for t in (1, 2) for h in range(5)]
        await store.add_usage(rows, rooms)
        # hours T0, T0+H, T0+2H of both tokens go: 6 counters and 6 room uses, 4 per batch
        assert await store.prune_usage(T0 + 2 * H + 1, batch=4) == 12
        left = await store.usage(None, 0, T0 + 10 * H)
        assert sorted({r.hour for r in left}) == [T0 + 3 * H, T0 + 4 * H]
        assert len(left) == 4
        uses = await store.usage_rooms(None, 0, T0 + 10 * H)
        assert sorted(uses) == sorted((t, T0 + h * H, 2**63 + h) for t in (1, 2) for h in (3, 4))
        assert await store.usage_totals([1, 2], 0) == {1: (2, 20), 2: (2, 20)}
        assert await store.prune_usage(T0 + 3 * H) == 0  # nothing older left
        assert await store.prune_usage(T0 + 3 * H + 1, batch=1) == 4  # 2 counters, 2 uses


async def test_prune_audit_deletes_older_entries(store_url: str) -> None:
    async with open_store(store_url) as store:
        for i in range(7):
            await store.add_audit(AuditEntry(0, T0 + i, "127.0.0.1", f"a{i}", "", 200, ""))
        assert await store.prune_audit(T0 + 5, batch=2) == 5
        assert [e.action for e in await store.audit(10)] == ["a6", "a5"]
        assert await store.prune_audit(T0 + 5) == 0
