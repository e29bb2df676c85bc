"""``EventStore.check``: a store that stops answering is reported in time (issue 22, item 1)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support.postgres import ADMIN_URL
from support.waiting import until

from dylive.sim.tcpproxy import TcpProxy
from dylive.store import EventStore, Record, open_store

ROOM = 11


def rec(msg_id: int) -> Record:
    return Record(ROOM, msg_id, "WebcastChatMessage", 1, b"{}", b"")


async def test_a_working_store_has_no_problem(store_url: str) -> None:
    async with open_store(store_url) as store:
        assert await store.check(within=5, stalled_after=5) == []
        await store.append([rec(1)])
        assert await store.check(within=5, stalled_after=5) == []


@pytest.mark.postgres
async def test_a_hung_postgres_is_reported_then_heals(pg_schema: str) -> None:
    target = urlsplit(ADMIN_URL)
    async with TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        netloc = f"{target.username or 'postgres'}@127.0.0.1:{proxy.port}"
        url = f"postgresql://{netloc}{target.path}?options=-csearch_path%3D{pg_schema}"
        async with open_store(url) as store:
            await store.append([rec(1)])
            proxy.freeze()
            write = asyncio.create_task(store.append([rec(2)]))  # hangs with the server

            async def both() -> list[str] | None:
                problems = await store.check(within=0.5, stalled_after=1.0)
                found = " | ".join(problems)
                return problems if "no answer" in found and "not committed" in found else None

            problems = await until(both, 30, what="the hang reported")
            assert not write.done()
            proxy.thaw()
            assert await asyncio.wait_for(write, 30) == 1
            await until(lambda: _healthy(store), 30, what="healthy again after the server answers")
    assert all(p.startswith("store: ") for p in problems), problems


async def test_a_locked_sqlite_database_is_reported_then_heals(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    async with open_store(str(path)) as store:
        await store.append([rec(1)])
        other = sqlite3.connect(path, isolation_level=None)  # another process's write lock
        other.execute("BEGIN IMMEDIATE")
        try:
            problems = await until(
                lambda: store.check(within=0.5, stalled_after=5), 30, what="the lock reported"
            )
        finally:
            other.execute("ROLLBACK")
            other.close()
        await until(lambda: _healthy(store), 30, what="healthy again once the lock is gone")
    assert problems and all(p.startswith("store: ") for p in problems), problems


async def _healthy(store: EventStore) -> bool:
    return await store.check(within=5, stalled_after=5) == []
