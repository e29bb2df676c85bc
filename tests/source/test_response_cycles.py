"""Upstream responses are freed by reference counting (``dylive.source.responses.unbind``):
httpx binds a response's body stream to the response, a reference cycle of ~36 objects per
request that only the garbage collector frees. Counted with the collector off: the responses of
the room's resolution, of 20 im/fetch polls and of 5 ranklist requests are gone once done; so
is the connection of a refused push handshake."""

from __future__ import annotations

import httpx
import pytest
from support.alive import alive, collector_off
from websockets.asyncio.client import ClientConnection

from dylive.errors import HandshakeRefused
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source.credentials import Identity
from dylive.source.poll import fetch_batch
from dylive.source.push import PushOptions, build_push_url, open_socket
from dylive.source.ranklist import fetch_audience_ranklist
from dylive.source.room import resolve_room
from dylive.source.transport import Position


async def test_upstream_responses_are_freed_without_the_garbage_collector() -> None:
    identity = Identity()
    async with (
        SimServer(SimConfig(seed=3, rate=5.0)) as sim,
        httpx.AsyncClient(trust_env=False) as client,
    ):
        with collector_off():
            before = alive(httpx.Response)
            info = await resolve_room(
                DEFAULT_WEB_RID, upstream=sim.base_url, client=client, signing="off"
            )
            after_resolve = alive(httpx.Response) - before
            position = Position()
            for _ in range(20):
                batch = await fetch_batch(
                    client, sim.base_url, info, identity, position, signing="off"
                )
                position = Position(batch.cursor, batch.internal_ext)
            after_polls = alive(httpx.Response) - before
            for _ in range(5):
                await fetch_audience_ranklist(
                    client,
                    upstream=sim.base_url,
                    room_id=DEFAULT_ROOM_ID,
                    web_rid=DEFAULT_WEB_RID,
                    user_agent=identity.user_agent,
                    signing="off",
                )
            after_ranklist = alive(httpx.Response) - before
    assert after_resolve == 0, f"{after_resolve} responses of the room's resolution alive"
    assert after_polls == 0, f"{after_polls} im/fetch responses of 20 alive"
    assert after_ranklist == 0, f"{after_ranklist} ranklist responses of 5 alive"


async def test_a_refused_push_handshake_is_freed_without_the_garbage_collector() -> None:
    """websockets keeps a refused handshake's exception on the connection's protocol, and the
    exception's traceback holds the protocol's frames: ``open_socket`` drops the traceback, so
    a refused handshake (retried while a room polls) leaves no connection for the collector."""
    identity = Identity()
    async with (
        SimServer(SimConfig(seed=3, rate=5.0)) as sim,
        httpx.AsyncClient(trust_env=False) as client,
    ):
        info = await resolve_room(
            DEFAULT_WEB_RID, upstream=sim.base_url, client=client, signing="off"
        )
        batch = await fetch_batch(client, sim.base_url, info, identity, Position(), signing="off")
        sim.set_faults_all(refuse_handshake=True)
        url = build_push_url(batch.push_server, info, identity, Position())
        with collector_off():
            before = alive(ClientConnection)
            for _ in range(5):
                with pytest.raises(HandshakeRefused):
                    await open_socket(url, info, identity, PushOptions(upstream=sim.base_url))
            left = alive(ClientConnection) - before
    assert left <= 1, f"{left} connections of 5 refused handshakes alive"  # the last one's
