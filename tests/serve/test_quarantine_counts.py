"""A poison message with NUL in its method name is quarantined for real (issue 22, item 3).

Reproduction (PostgreSQL): the message was refused by the events table (text cannot hold NUL),
refused again by the quarantine, lost, yet ``/api/rooms`` said ``quarantined: 1`` with a
quarantine table of 0 rows. Now the quarantine keeps any bytes and the counters equal the rows.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from support.service import end_broadcast
from support.waiting import until

from dylive.collect import Tuning
from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.store import EventStore, open_store

NUL_METHOD = "Webcast\x00ChatMessage"
FAST = Tuning(retry_initial=0.02, retry_cap=0.2, restart_initial=0.05, restart_cap=0.2)


async def stored_ids(store: EventStore) -> set[int]:
    ids: set[int] = set()
    after = 0
    while (page := await store.read(DEFAULT_ROOM_ID, after, 500)).messages:
        ids.update(m.msg_id for m in page.messages)
        after = page.last_seq
    return ids


@pytest.mark.postgres
async def test_a_nul_method_is_quarantined_and_counted_once(pg_url: str, serve_api: Any) -> None:
    async with SimServer(SimConfig(seed=43, rate=20.0, tick=0.05)) as sim:
        config = ServiceConfig(
            upstream=sim.base_url, signing="off", pins=[DEFAULT_WEB_RID], ranklist=False,
            store=open_store(pg_url), ingest=FAST, fleet=False,
        )  # fmt: skip
        async with serve_api(config) as (base, svc), httpx.AsyncClient(base_url=base) as client:
            token = await tokens.create(svc.store, "ops")
            await until(lambda: svc.store.last_seq(DEFAULT_ROOM_ID), 60, what="first messages")
            [bad] = sim.inject(DEFAULT_WEB_RID, NUL_METHOD, content="poison")
            [mark] = sim.inject(DEFAULT_WEB_RID, "WebcastChatMessage", content="after it")

            async def after_stored() -> bool:
                return int(mark["msg_id"]) in await stored_ids(svc.store)

            await until(after_stored, 60, what="a message after the poison stored")
            await end_broadcast(sim, svc)  # nothing more to store: the figures settle
            # by room_id: this broadcast's figures (by web_rid a followed room answers its follow state)
            resp = await client.get(f"/api/rooms/{DEFAULT_ROOM_ID}", params={"token": token})
            room = orjson.loads(resp.content)["data"]
            kept = await svc.store.quarantined(DEFAULT_ROOM_ID)
            rows = await stored_ids(svc.store)
            metrics = (await client.get("/metrics")).text
    assert [(q.msg_id, q.method) for q in kept] == [(int(bad["msg_id"]), NUL_METHOD)]
    assert kept[0].raw and "0x00" in kept[0].error
    assert room["quarantined"] == len(kept) == 1, room
    assert room["stored"] == len(rows), room  # the stored figure equals the stored rows too
    assert "dylive_messages_quarantined_total 1.0" in metrics
