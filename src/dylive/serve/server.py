"""Running the API service: the store checked, the socket bound, uvicorn started and awaited.

Shared by ``dylive serve`` and ``dylive demo`` (:mod:`dylive.serve.cli`, :mod:`dylive.serve.demo`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys

import uvicorn

from dylive.errors import DyliveError
from dylive.listen import bind_listener
from dylive.store import open_store
from dylive.store.dburl import redact

from . import runtime
from .app import ServiceConfig, create_app
from .limits import server_config

__all__ = ["ServeError", "check_store", "one_line", "run_server"]


def one_line(exc: BaseException) -> str:
    """An error as one line (drivers' messages span several), passwords redacted."""
    return redact(" ".join(str(exc).split()))


class ServeError(DyliveError):
    """The service could not start."""


async def check_store(db: str) -> None:
    """Open and close the store once, so that a bad ``--db`` fails before the server starts."""
    store = open_store(db)
    try:
        await store.open()
    finally:
        with contextlib.suppress(Exception):
            await store.close()


async def run_server(
    config: ServiceConfig,
    host: str,
    port: int,
    *,
    announce: bool = True,
    sock: socket.socket | None = None,
) -> None:
    """Run the API until cancelled or signalled; print the bound URL once listening.

    The store is opened once and the socket bound before uvicorn starts, so a bad database or
    a taken port is one :class:`DyliveError` (a one-line message), never a traceback.
    """
    sock = sock or bind_listener(host, port)
    if config.store is None:
        try:
            await check_store(config.db)
        except BaseException:
            sock.close()
            raise
    app = create_app(config)
    server = uvicorn.Server(
        server_config(
            app,
            host,
            port,
            http=runtime.http_name(),
            ws_ping_interval=20.0,  # WebSocket pings keep feeds (and proxies) alive
            ws_ping_timeout=20.0,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # uvicorn has no "started" event
        if server.should_exit:  # SIGTERM/SIGINT while starting: uvicorn waits for the start
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            sock.close()
            raise ServeError("stopped by a signal before the service had started")
        await asyncio.sleep(0.02)
    if server.started:
        bound = sock.getsockname()
        app.state.svc.set_address(f"http://{bound[0]}:{bound[1]}")
    if server.started and announce:
        bound = sock.getsockname()
        sys.stdout.write(f"dylive serve: listening on http://{bound[0]}:{bound[1]}\n")
        sys.stdout.flush()
    try:
        await task
    except SystemExit as exc:  # uvicorn gives up when the app fails to start (logged)
        raise ServeError(f"the service did not start (exit {exc.code})") from None
    finally:
        sock.close()
