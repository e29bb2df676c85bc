"""The simulator's ASGI app and :class:`SimServer`, which runs it on uvicorn in the current loop.

async with SimServer(SimConfig(seed=1, rate=5.0)) as sim:
    sim.base_url                    # "http://127.0.0.1:<port>"
    sim.log("615189692839")         # ground truth
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from dylive.listen import bind_listener, bound_port

from . import control, page, upstream
from .core import SimConfig, Simulator
from .faults import Faults
from .rooms import Room
from .wsproto import PingAwareProtocol

log = logging.getLogger(__name__)


async def _sim_not_found(request: Request) -> Response:
    return control.error(404, "not_found", f"no control route {request.url.path}")


def build_app(sim: Simulator) -> Starlette:
    """One Starlette app: upstream paths, the push socket, the control plane, the room page."""
    routes: list[Any] = [
        Route("/", page.home, methods=["GET"]),
        Route("/webcast/room/web/enter/", upstream.web_enter, methods=["GET"]),
        Route("/webcast/im/fetch/", upstream.im_fetch, methods=["GET"]),
        Route("/webcast/ranklist/audience/", upstream.ranklist_audience, methods=["GET"]),
        Route("/webcast/gift/list/", upstream.gift_list, methods=["GET"]),
        WebSocketRoute("/webcast/im/push/v2/", sim.hub),
        *control.routes(),
        Route("/__sim/{rest:path}", _sim_not_found),
        Route("/{web_rid}", page.room_page, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.sim = sim
    return app


class SimServer:
    """The simulator on a real socket, inside the running event loop (tests, demo, CLI)."""

    def __init__(
        self, config: SimConfig | None = None, *, sock: socket.socket | None = None
    ) -> None:
        """``sock``: a listening socket bound beforehand (else config.host/port is bound)."""
        self.config = config or SimConfig()
        self._given_sock = sock
        self.sim = Simulator(self.config)
        self.sim.populate()
        self.app = build_app(self.sim)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self.port = self.config.port
        self.host = self.config.host

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def push_url(self) -> str:
        return f"ws://{self.host}:{self.port}/webcast/im/push/v2/"

    async def __aenter__(self) -> SimServer:
        await self.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_server()

    async def start_server(self) -> None:
        cfg = self.config
        sock = self._given_sock or bind_listener(cfg.host, cfg.port)  # ListenError: taken
        self._given_sock = None
        ucfg = uvicorn.Config(
            self.app,
            ws=PingAwareProtocol,
            ws_ping_interval=cfg.ping_interval,
            ws_ping_timeout=cfg.ping_timeout,
            ws_per_message_deflate=False,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
            backlog=4096,
        )
        self._server = uvicorn.Server(ucfg)
        self._sock = sock
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                sock.close()
                self._task.result()  # raises the startup error
                raise RuntimeError("simulator server stopped during startup")
            await asyncio.sleep(0.01)
        self.port = bound_port(sock)
        self.sim.start_clocks()
        log.info("dylive sim listening on %s", self.base_url)

    async def stop_server(self) -> None:
        await self.sim.stop_clocks()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._server = self._task = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def wait(self) -> None:
        """Until the server stops (Ctrl-C in the CLI)."""
        if self._task is not None:
            await self._task

    # ------------------------------------------------------------ Python control plane

    def rooms(self) -> list[dict[str, Any]]:
        return [r.info() for r in self.sim.registry.rooms.values()]

    def room(self, web_rid: str) -> dict[str, Any]:
        return self.sim.room(web_rid).info()

    def room_obj(self, web_rid: str) -> Room:
        return self.sim.room(web_rid)

    def room_id(self, web_rid: str) -> int:
        return self.sim.room(web_rid).room_id

    def log(self, web_rid: str, since: int = 0) -> list[dict[str, Any]]:
        return self.sim.log_of(web_rid, since)

    def totals(self, web_rid: str, since: int = 0) -> dict[str, Any]:
        return self.sim.totals_of(web_rid, since)

    def set_faults(self, web_rid: str, **faults: Any) -> dict[str, Any]:
        return self.sim.set_faults(web_rid, faults).as_dict()

    def set_faults_all(self, **faults: Any) -> dict[str, Any]:
        return self.sim.set_faults_all(faults).as_dict()

    def faults(self, web_rid: str) -> Faults:
        return self.sim.room(web_rid).faults

    def set_era(self, web_rid: str, **changes: Any) -> dict[str, Any]:
        """Switch 2026 behaviours of one room (``era="2026"`` for all of them)."""
        return self.sim.set_era(web_rid, changes).as_dict()

    def set_era_all(self, **changes: Any) -> dict[str, Any]:
        return self.sim.set_era_all(changes).as_dict()

    def end(self, web_rid: str) -> dict[str, Any]:
        return self.sim.end(web_rid).info()

    def start(self, web_rid: str, room_id: int = 0) -> dict[str, Any]:
        return self.sim.start(web_rid, room_id).info()

    def create_room(self, web_rid: str, **fields: Any) -> dict[str, Any]:
        return self.sim.create_room({"web_rid": web_rid, **fields}).info()

    def inject(self, web_rid: str, method: str, **fields: Any) -> list[dict[str, Any]]:
        return self.sim.inject(web_rid, {"method": method, **fields})

    def set_rate(self, web_rid: str, rate: float) -> dict[str, Any]:
        return self.sim.set_rate(web_rid, rate).info()

    def connections(self, web_rid: str) -> list[dict[str, Any]]:
        return [c.info() for c in self.sim.room(web_rid).conns]

    def stats(self) -> dict[str, Any]:
        return self.sim.stats()

    def login(self, name: str = "") -> str:
        """A logged-in identity's Cookie header value (see ``POST /__sim/login``)."""
        return self.sim.guard.login(name)[1]

    def expire_login(self, cookie: str) -> bool:
        """End the login of ``cookie`` now (the identity is a guest from here on)."""
        sid = next(
            (p.split("=", 1)[1] for p in cookie.split("; ") if p.startswith("sessionid=")), ""
        )
        return self.sim.guard.expire(sid)
