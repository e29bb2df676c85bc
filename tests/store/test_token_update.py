"""``Tokens.update_token`` on each backend: one write that returns the record before and after;
the fields not given stay (quota field by field); a missing or revoked token is None; a rename to
another active token's name is TokenNameTaken; the lookups of this store and of another store on
the database (another process's service) meet the new plan."""

from __future__ import annotations

import asyncio

import pytest
from support.waiting import until

from dylive.store import Quota, SQLiteStore, TokenChange, TokenNameTaken, open_store
from dylive.store.postgres import PostgresStore
from dylive.store.postgres.cache import TokenCache
from dylive.store.records import TokenRecord

T0 = 1_790_000_000_000


async def test_update_changes_the_given_fields_only(store_url: str) -> None:
    quota = Quota(requests_per_day=10, messages_per_month=500)
    async with open_store(store_url) as store:
        token_id = await store.create_token("alice", "a" * 64, 2, 1.5, expires_at=T0, quota=quota)
        assert (await store.token_by_digest("a" * 64)).quota == quota  # type: ignore[union-attr]
        change = TokenChange(rate=3.0, quota={"requests_per_day": 20, "messages_per_day": 7})
        changed = await store.update_token(token_id, change)
        assert changed is not None
        before, after = changed
        assert before.quota == quota and before.rate == 1.5
        wanted = Quota(requests_per_day=20, messages_per_day=7, messages_per_month=500)
        assert (after.quota, after.rate, after.room_limit, after.expires_at) == (wanted, 3.0, 2, T0)
        assert (after.id, after.digest, after.created_at) == (token_id, "a" * 64, before.created_at)
        # this store's next lookup meets it (its cache was dropped by the write)
        assert await store.token_by_digest("a" * 64) == after
        renamed = await store.update_token(token_id, TokenChange(name="alicia", expires_at=0))
        assert renamed is not None and renamed[1].name == "alicia" and renamed[1].expires_at == 0
    async with open_store(store_url) as store:  # stored, not only cached
        [record] = await store.list_tokens()
        assert (record.name, record.quota, record.expires_at) == ("alicia", wanted, 0)


async def test_missing_revoked_and_taken_names(store_url: str) -> None:
    async with open_store(store_url) as store:
        a = await store.create_token("a", "a" * 64, 0, 0.0)
        b = await store.create_token("b", "b" * 64, 0, 0.0)
        assert await store.update_token(999, TokenChange(rate=1.0)) is None
        with pytest.raises(TokenNameTaken, match=f"id {a}"):
            await store.update_token(b, TokenChange(name="a", rate=9.0))
        assert (await store.token_by_digest("b" * 64)).rate == 0.0  # type: ignore[union-attr]
        same = await store.update_token(a, TokenChange(name="a"))  # its own name: no conflict
        assert same is not None and same[0] == same[1]
        assert await store.revoke_token("a") == 1
        assert await store.update_token(a, TokenChange(rate=1.0)) is None
        revoked = await store.token_by_digest("a" * 64)
        assert revoked is not None and revoked.rate == 0.0 and not revoked.active
        moved = await store.update_token(b, TokenChange(name="a"))  # the name is free now
        assert moved is not None and moved[1].name == "a"


async def test_another_store_on_the_database_meets_the_change(store_url: str) -> None:
    """Another store instance (as another process's service) with its token cached: it meets
    the change made here (SQLite: the change mark, read by its next lookup; PostgreSQL: the
    notification, its cache otherwise kept for an hour)."""
    async with open_store(store_url) as store:
        token_id = await store.create_token("alice", "a" * 64, 0, 0.0, quota=Quota(5))
    postgres = store_url.startswith("postgresql://")
    other = PostgresStore(store_url, token_ttl=3600.0) if postgres else SQLiteStore(store_url)
    async with other, open_store(store_url) as store:
        if not postgres:
            other._recheck_at = float("inf")  # type: ignore[union-attr]  # the mark alone
        assert (await other.token_by_digest("a" * 64)).quota == Quota(5)  # type: ignore[union-attr]
        assert (await other.token_by_digest("a" * 64)).quota == Quota(5)  # type: ignore[union-attr]
        await store.update_token(token_id, TokenChange(quota={"requests_per_day": 1}))

        async def met() -> bool:
            record = await other.token_by_digest("a" * 64)
            return record is not None and record.quota == Quota(1)

        if postgres:
            await until(met, 10, "the notification met")
        else:
            assert await met()


def test_a_lookup_read_before_a_clear_is_not_cached() -> None:
    """PostgreSQL's token cache: a lookup that read the row, then a change cleared the cache
    before the lookup stored its record, does not keep the old record for the ttl."""
    cache = TokenCache(ttl=3600.0)
    cache.listening = True
    old = TokenRecord(1, "a", "a" * 64, 0, 0.0, 1)
    began = cache.generation
    cache.clear()  # a change (ours, or a notification) while the read was in flight
    cache.put("a" * 64, old, began)
    assert cache.get("a" * 64) == (False, None)
    cache.put("a" * 64, old, cache.generation)
    assert cache.get("a" * 64) == (True, old)


async def test_two_processes_taking_one_name_at_once_get_one_token_and_one_refusal(
    store_url: str,
) -> None:
    """Two stores (two processes' services) create, or rename to, the same name at the same
    moment: one wins, the other is refused with TokenNameTaken (the API's 40005), never a
    database error (on PostgreSQL both checks could pass before either insert)."""
    async with open_store(store_url) as one, open_store(store_url) as two:
        for round_ in range(12):
            name = f"n{round_}"
            results = await asyncio.gather(
                one.create_token(name, f"{round_:02d}a".ljust(64, "a"), 1, 1.0),
                two.create_token(name, f"{round_:02d}b".ljust(64, "b"), 1, 1.0),
                return_exceptions=True,
            )
            assert sorted(type(r).__name__ for r in results) == ["TokenNameTaken", "int"], results
            a = await one.create_token(f"a{round_}", f"{round_:02d}c".ljust(64, "c"), 1, 1.0)
            b = await two.create_token(f"b{round_}", f"{round_:02d}d".ljust(64, "d"), 1, 1.0)
            to = f"r{round_}"
            results = await asyncio.gather(
                one.update_token(a, TokenChange(name=to)),
                two.update_token(b, TokenChange(name=to)),
                return_exceptions=True,
            )
            assert sorted(type(r).__name__ for r in results) == ["TokenNameTaken", "tuple"], results
