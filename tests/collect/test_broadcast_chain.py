"""The broadcast chain of a followed anchor, cached per (web_rid, current broadcast): a long-poller
asks for it on every request, the store is asked once per ttl; a new broadcast is a new key."""

from __future__ import annotations

from pathlib import Path

from dylive.collect.broadcasts import ChainCache
from dylive.store import SessionRecord, SQLiteStore


class CountingStore(SQLiteStore):
    """A real SQLite store that counts the sessions queries it answers."""

    listed = 0

    async def list_sessions(self, *, web_rid: str = "", room_id: int = 0) -> list[SessionRecord]:
        self.listed += 1
        return await super().list_sessions(web_rid=web_rid, room_id=room_id)


async def test_the_chain_is_read_once_per_ttl_and_per_broadcast(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "c.sqlite3")
    await store.open()
    try:
        await store.open_session(SessionRecord(0, 11, web_rid="w1", started_at=1))
        await store.open_session(SessionRecord(0, 12, web_rid="w1", started_at=2))
        cache = ChainCache(ttl=3600)
        for _ in range(5):
            assert await cache.chain(store, "w1", 12) == [11, 12]
        assert store.listed == 1
        # the request path's check: the cached chain while fresh, no query
        assert list(cache.fresh("w1", 12) or ()) == [11, 12]
        assert cache.fresh("w1", 99) is None
        assert store.listed == 1
        # the next broadcast starts: a new key, read from the store, the old ones included
        await store.open_session(SessionRecord(0, 13, web_rid="w1", started_at=3))
        assert await cache.chain(store, "w1", 13) == [11, 12, 13]
        assert store.listed == 2
        chain = await cache.chain(store, "w1", 13)
        chain.append(99)  # a caller's change does not reach the cached chain
        assert await cache.chain(store, "w1", 13) == [11, 12, 13]
        # a ttl of 0 reads every time (what the cache saves is the query per request)
        fresh = ChainCache(ttl=0)
        await fresh.chain(store, "w1", 13)
        await fresh.chain(store, "w1", 13)
        assert store.listed == 4
        assert fresh.fresh("w1", 13) is None  # stale at once: the caller reads it again
        # bounded: the oldest key goes first
        small = ChainCache(ttl=3600, size=2)
        for current in (11, 12, 13):
            await small.chain(store, "w1", current)
        assert list(small._chains) == [("w1", 12), ("w1", 13)]
    finally:
        await store.close()
