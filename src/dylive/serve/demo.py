"""``dylive demo`` (``make run``): the simulator and the API service wired together on SQLite.

Starts the simulator (port 9000, or any free port when taken), the API service on SQLite, creates
a demo token, prints ready-to-paste curl commands for the contract's example room and runs until
Ctrl-C. The contract's room (web_rid 615189692839 / room_id 6922580638159719176) is pinned so
that data is flowing before the first request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import importlib
import socket
import sys
from typing import Any

from dylive.store import open_store
from dylive.store.dburl import redact

from . import tokens
from .app import ServiceConfig
from .cli import run_server

WEB_RID = "615189692839"
ROOM_ID = 6922580638159719176


def _free(host: str, port: int) -> int:
    """``port`` if it can be bound on ``host``, else 0 (any free port)."""
    if port == 0:
        return 0
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return 0
            raise
    return port


def _bound_port(host: str, port: int) -> int:
    if port:
        return port
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def curl_lines(base: str, token: str) -> str:
    return "\n".join(
        [
            "Live dashboard (open in a browser):",
            f"  {base}/dashboard?token={token}&room={WEB_RID}",
            "Live stream (Server-Sent Events):",
            f"  curl -N '{base}/api/rooms/{WEB_RID}/stream?token={token}'",
            "Chat and gifts (repeat to continue; add &wait=10 to long-poll):",
            f"  curl '{base}/douyin/liveroom/chat?token={token}&room_id={WEB_RID}'",
            f"  curl '{base}/douyin/liveroom/chat?token={token}&room_id={ROOM_ID}&count=5'",
            "Audience ranking (音浪榜):",
            f"  curl '{base}/douyin/liveroom/audience?token={token}&room_id={WEB_RID}'",
            "Room status, health, docs, metrics:",
            f"  curl '{base}/api/rooms?token={token}'",
            f"  curl '{base}/healthz'   # docs: {base}/docs   metrics: {base}/metrics",
        ]
    )


async def run_demo(args: argparse.Namespace) -> int:
    sim_mod: Any = importlib.import_module("dylive.sim")
    host = args.host
    sim_port = _free(host, args.sim_port)
    api_port = _bound_port(host, _free(host, args.port))
    async with sim_mod.SimServer(sim_mod.SimConfig(port=sim_port, host=host)) as sim:
        store = open_store(args.db)
        await store.open()
        try:
            token = await tokens.create(store, "demo")
        finally:
            await store.close()
        config = ServiceConfig.from_settings(
            db=args.db, upstream=sim.base_url, pins=[WEB_RID], signing="v2"
        )
        base = f"http://{host}:{api_port}"
        sys.stdout.write(
            f"dylive demo: simulator at {sim.base_url}, API at {base}, SQLite {redact(args.db)}\n"
            f"Demo token: {token}\n\n{curl_lines(base, token)}\n\nCtrl-C to stop.\n"
        )
        sys.stdout.flush()
        with contextlib.suppress(asyncio.CancelledError):
            await run_server(config, host, api_port, announce=False)
    return 0
