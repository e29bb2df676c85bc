"""``/healthz`` fails while the store does not answer (issue 22, item 1).

Reproduction: PostgreSQL behind a TCP proxy frozen for 60 s (connections open, nothing
answered): 12 of 12 ``/healthz`` samples said ``ok`` while chat answered 503 and writes were
stuck. Now ``/healthz`` answers ``unhealthy`` with HTTP 503 (code 50301) within its bound, and
``ok`` again once the store answers; the same for an SQLite database another process locks.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from support.postgres import ADMIN_URL
from support.waiting import until

from dylive.collect import Tuning
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.sim.tcpproxy import TcpProxy
from dylive.store import EventStore, open_store

FAST = Tuning(retry_initial=0.02, retry_cap=0.2, restart_initial=0.05, restart_cap=0.2)


@contextlib.asynccontextmanager
async def collecting(serve_api: Any, store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    """The API collecting the simulator's default room into ``store``."""
    async with SimServer(SimConfig(seed=44, rate=30.0, tick=0.05)) as sim:
        config = ServiceConfig(
            upstream=sim.base_url, signing="off", pins=[DEFAULT_WEB_RID], ranklist=False,
            store=store, ingest=FAST, fleet=False,
        )  # fmt: skip
        async with serve_api(config) as (base, svc), httpx.AsyncClient(base_url=base) as client:
            await until(lambda: svc.store.last_seq(DEFAULT_ROOM_ID), 60, what="first messages")
            yield client


async def health(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    resp = await client.get("/healthz", timeout=30)
    return resp.status_code, orjson.loads(resp.content)


async def assert_unhealthy_then_ok(client: httpx.AsyncClient, stuck: Any, unstick: Any) -> None:
    assert (await health(client))[0] == 200
    stuck()
    try:

        async def failing() -> dict[str, Any] | None:
            status, body = await health(client)
            return body if status == 503 else None

        body = await until(failing, 30, what="/healthz failing")
    finally:
        unstick()
    assert body["code"] == 50301 and body["data"]["status"] == "unhealthy", body
    assert any(r.startswith("store: ") for r in body["data"]["reasons"]), body

    async def healthy() -> bool:
        status, body = await health(client)
        return status == 200 and body["data"]["status"] == "ok"

    await until(healthy, 60, what="/healthz ok once the store answers")


@pytest.mark.postgres
async def test_healthz_fails_while_postgres_hangs(pg_schema: str, serve_api: Any) -> None:
    target = urlsplit(ADMIN_URL)
    async with TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy:
        netloc = f"{target.username or 'postgres'}@127.0.0.1:{proxy.port}"
        url = f"postgresql://{netloc}{target.path}?options=-csearch_path%3D{pg_schema}"
        async with collecting(serve_api, open_store(url)) as client:
            await assert_unhealthy_then_ok(client, proxy.freeze, proxy.thaw)


async def test_healthz_fails_while_sqlite_is_locked(tmp_path: Path, serve_api: Any) -> None:
    path = tmp_path / "h.db"
    other = sqlite3.connect(path, isolation_level=None)  # another process's write lock
    async with collecting(serve_api, open_store(str(path))) as client:
        await assert_unhealthy_then_ok(
            client, lambda: other.execute("BEGIN IMMEDIATE"), lambda: other.execute("ROLLBACK")
        )
    other.close()
