"""Ingestion heals itself: storage outages, poison messages and crashes never stop a room.

Reproductions: a PostgreSQL outage (connections refused, open ones cut) ended ingestion for the
room while ``/api/rooms`` kept saying ``collecting: true, error: ""``; one upstream message with
``create_time >= 2^63`` (an SQLite integer overflow) failed its whole batch and stopped the room.
Every test compares what was stored with the simulator's ground-truth log.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from support.postgres import ADMIN_URL
from support.waiting import until

from dylive.collect import Tuning
from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.sim.tcpproxy import TcpProxy
from dylive.store import EventStore, SQLiteStore, open_store

POISON_HEX = "0a0b20ffffffffffffffffff011001"  # LiveShopping, common.create_time = 2^64-1
FAST = Tuning(retry_initial=0.02, retry_cap=0.2, restart_initial=0.05, restart_cap=0.2)


async def stored_ids(store: EventStore) -> list[int]:
    ids: list[int] = []
    after = 0
    while True:
        page = await store.read(DEFAULT_ROOM_ID, after, 500)
        if not page.messages:
            return ids
        ids += [m.msg_id for m in page.messages]
        after = page.last_seq


def assert_exact(
    log: list[dict[str, Any]], stored: list[int], skip: set[int] = frozenset()
) -> None:  # type: ignore[assignment]
    """``stored`` is a contiguous stretch of the log (minus ``skip``), each message once."""
    ids = [int(e["msg_id"]) for e in log if int(e["msg_id"]) not in skip]
    assert len(stored) == len(set(stored)), "a message was stored twice"
    start = ids.index(stored[0])
    assert stored == ids[start : start + len(stored)], "lost or reordered messages"


@dataclass
class Api:
    client: httpx.AsyncClient
    svc: Any
    token: str

    async def get(self, path: str) -> dict[str, Any]:
        resp = await self.client.get(path, params={"token": self.token})
        body: dict[str, Any] = orjson.loads(resp.content)
        assert body["code"] == 200, body
        return body["data"]  # type: ignore[no-any-return]

    async def room(self) -> dict[str, Any]:
        return await self.get(f"/api/rooms/{DEFAULT_WEB_RID}")


def pinned_config(upstream: str, store: EventStore, tuning: Tuning = FAST) -> ServiceConfig:
    return ServiceConfig(
        upstream=upstream,
        signing="off",
        pins=[DEFAULT_WEB_RID],
        ranklist=False,
        store=store,
        ingest=tuning,
    )


@contextlib.asynccontextmanager
async def running(serve_api: Any, config: ServiceConfig) -> AsyncIterator[Api]:
    async with serve_api(config) as (base, svc), httpx.AsyncClient(base_url=base) as client:
        token = await tokens.create(svc.store, "ops")
        yield Api(client, svc, token)


async def test_a_poison_message_is_quarantined_and_the_room_goes_on(
    tmp_path: Path, serve_api: Any
) -> None:
    async with SimServer(SimConfig(seed=41, rate=40.0, tick=0.05)) as sim:
        store = SQLiteStore(tmp_path / "p.sqlite3")
        async with running(serve_api, pinned_config(sim.base_url, store)) as api:
            await until(lambda: api.svc.store.last_seq(DEFAULT_ROOM_ID), 60, what="first messages")
            [poison] = sim.inject(
                DEFAULT_WEB_RID, "WebcastLiveShoppingMessage", payload_hex=POISON_HEX
            )
            mark = sim.inject(DEFAULT_WEB_RID, "WebcastChatMessage", content="after the poison")

            async def after_stored() -> bool:
                return int(mark[0]["msg_id"]) in await stored_ids(api.svc.store)

            await until(after_stored, 60, what="a message after the poison stored")
            room = await api.room()
            assert room["quarantined"] == 1 and room["collecting"] and room["error"] == ""
            assert room["last_write_at"] is not None
            health = await api.get("/healthz")
            assert health["status"] == "ok", health
            metrics = (await api.client.get("/metrics")).text
            assert "dylive_messages_quarantined_total 1.0" in metrics
            kept = await api.svc.store.quarantined(DEFAULT_ROOM_ID)
            assert [q.msg_id for q in kept] == [int(poison["msg_id"])]
            assert kept[0].raw == bytes.fromhex(POISON_HEX) and kept[0].error
            stored = await stored_ids(api.svc.store)
            log = sim.log(DEFAULT_WEB_RID)
    assert_exact(log, stored, skip={int(poison["msg_id"])})


@pytest.mark.postgres
async def test_postgres_outage_is_retried_paused_and_healed(pg_schema: str, serve_api: Any) -> None:
    target = urlsplit(ADMIN_URL)
    tuning = Tuning(
        max_pending=30, batch_size=10, retry_initial=0.02, retry_cap=0.3, restart_cap=0.3
    )
    async with (
        SimServer(SimConfig(seed=42, rate=60.0, tick=0.05)) as sim,
        TcpProxy(target.hostname or "127.0.0.1", target.port or 5432) as proxy,
    ):
        netloc = f"{target.username or 'postgres'}@127.0.0.1:{proxy.port}"
        url = f"postgresql://{netloc}{target.path}?options=-csearch_path%3D{pg_schema}"
        async with running(serve_api, pinned_config(sim.base_url, open_store(url), tuning)) as api:
            state = api.svc.rooms.rooms[DEFAULT_ROOM_ID]
            await until(lambda: state.stored >= 30, 60, what="collecting")
            await proxy.down()  # connections cut, new ones refused
            await until(lambda: state.retries >= 3 and state.error, 60, what="retries")
            resp = await api.client.get("/healthz")  # the store refuses: unhealthy (503)
            health = orjson.loads(resp.content)["data"]
            assert resp.status_code == 503 and health["status"] == "unhealthy", health
            assert any(r.startswith("store: ") for r in health["reasons"]), health
            assert "cannot store" in state.status()["error"]
            await until(lambda: state.pending >= tuning.max_pending, 60, what="reading paused")
            emitted = len(sim.log(DEFAULT_WEB_RID))
            await until(lambda: len(sim.log(DEFAULT_WEB_RID)) > emitted + 60, 60, what="emitting")
            assert state.pending <= tuning.max_pending + tuning.batch_size  # bounded
            await proxy.up()
            await until(lambda: not state.error, 60, what="healed")
            down_log = len(sim.log(DEFAULT_WEB_RID))

            async def caught_up() -> bool:
                stored = await stored_ids(api.svc.store)
                ids = [int(e["msg_id"]) for e in sim.log(DEFAULT_WEB_RID)[:down_log]]
                return ids[-1] in stored

            await until(caught_up, 60, what="caught up after the outage")
            assert (await api.get("/healthz"))["status"] == "ok"
            metrics = (await api.client.get("/metrics")).text
            assert "dylive_store_retries_total" in metrics
            assert "dylive_store_retries_total 0.0" not in metrics
            stored = await stored_ids(api.svc.store)
            log = sim.log(DEFAULT_WEB_RID)
    assert_exact(log, stored)


class CrashOnce:
    """Hooks whose first ``on_stored`` raises, as a bug in a downstream consumer would."""

    def __init__(self) -> None:
        self.crashed = False

    def on_stored(self, room_id: int, inserted: int) -> None:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("boom")

    def on_retry(self, room_id: int) -> None: ...

    def on_quarantined(self, room_id: int) -> None: ...

    def on_restart(self, room_id: int) -> None: ...

    def on_gap(self, room_id: int, missed: int) -> None: ...


async def test_an_unexpected_exception_restarts_the_room_from_its_stored_position(
    tmp_path: Path,
) -> None:
    from dylive.collect.rooms import RoomManager, collector_source, default_resolver

    async with (
        SimServer(SimConfig(seed=43, rate=60.0, tick=0.05)) as sim,
        SQLiteStore(tmp_path / "c.sqlite3") as store,
    ):
        hooks = CrashOnce()
        rooms = RoomManager(
            store,
            resolver=default_resolver(upstream=sim.base_url, signing="off"),
            source_factory=collector_source(upstream=sim.base_url),
            # the restart waits >= 0.8 s: the 50 ms polls below see the error before it heals
            tuning=Tuning(restart_initial=1.0, restart_cap=1.0),
            hooks=hooks,
        )
        await rooms.start([DEFAULT_WEB_RID])
        try:
            state = rooms.rooms[DEFAULT_ROOM_ID]
            await until(lambda: state.restarts == 1, 60, what="restarted")
            assert "boom" in state.status()["error"]
            await until(lambda: state.stored > 100 and not state.error, 60, what="healed")
            assert state.collecting and state.status()["restarts"] == 1
        finally:
            await rooms.stop()
        stored = await stored_ids(store)
        assert_exact(sim.log(DEFAULT_WEB_RID), stored)
