"""Upstream responses are freed by reference counting (``dylive.source.responses.unbind``):
httpx binds a response's body stream to the response, a reference cycle of ~36 objects per
request that only the garbage collector frees. Counted with the collector off: the responses of
the room's resolution, of 20 im/fetch polls and of 5 ranklist requests are gone once done."""

from __future__ import annotations

import gc

import httpx

from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source.credentials import Identity
from dylive.source.poll import fetch_batch
from dylive.source.ranklist import fetch_audience_ranklist
from dylive.source.room import resolve_room
from dylive.source.transport import Position


def responses() -> int:
    return sum(type(o) is httpx.Response for o in gc.get_objects())


async def test_upstream_responses_are_freed_without_the_garbage_collector() -> None:
    identity = Identity()
    async with (
        SimServer(SimConfig(seed=3, rate=5.0)) as sim,
        httpx.AsyncClient(trust_env=False) as client,
    ):
        gc.collect()
        gc.disable()
        try:
            before = responses()
            info = await resolve_room(
                DEFAULT_WEB_RID, upstream=sim.base_url, client=client, signing="off"
            )
            after_resolve = responses() - before
            position = Position()
            for _ in range(20):
                batch = await fetch_batch(
                    client, sim.base_url, info, identity, position, signing="off"
                )
                position = Position(batch.cursor, batch.internal_ext)
            after_polls = responses() - before
            for _ in range(5):
                await fetch_audience_ranklist(
                    client,
                    upstream=sim.base_url,
                    room_id=DEFAULT_ROOM_ID,
                    web_rid=DEFAULT_WEB_RID,
                    user_agent=identity.user_agent,
                    signing="off",
                )
            after_ranklist = responses() - before
        finally:
            gc.enable()
    assert after_resolve == 0, f"{after_resolve} responses of the room's resolution alive"
    assert after_polls == 0, f"{after_polls} im/fetch responses of 20 alive"
    assert after_ranklist == 0, f"{after_ranklist} ranklist responses of 5 alive"
