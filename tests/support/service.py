"""The API service served in-process by uvicorn on 127.0.0.1, port 0."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from dylive.serve.app import ServiceConfig, create_app
from dylive.sim import DEFAULT_WEB_RID
from support.waiting import until


@contextlib.asynccontextmanager
async def serving(config: ServiceConfig) -> AsyncIterator[tuple[str, object]]:
    """Run the API with uvicorn on a free port; yield (base_url, Service)."""
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    await until(lambda: server.started or task.done(), 30, "uvicorn started", every=0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    svc = app.state.svc
    # pinned rooms start in the background once the port is open: tests begin once they have
    # (tests/serve/test_serve_pins_background.py covers the port answering before that)
    try:
        await until(lambda: not svc.rooms.starting, 60, "pinned rooms started", every=0.01)
        yield f"http://127.0.0.1:{port}", svc
    finally:
        server.should_exit = True
        await task


async def end_broadcast(sim: Any, svc: Any, web_rid: str = DEFAULT_WEB_RID) -> None:
    """End the simulated broadcast and wait until every collector has finished by itself.

    Works around a shutdown hang outside serve/: on Python 3.11 ``asyncio.wait_for`` in
    ``dylive.source.push.push_stream`` can swallow the cancellation of a room task, and
    ``RoomManager.stop`` then waits for it forever (reported with a fix).
    """
    sim.end(web_rid)
    tasks = [s.task for s in svc.rooms.rooms.values() if s.task is not None]
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=20)
        assert not pending, "a collector did not finish after the broadcast ended"
