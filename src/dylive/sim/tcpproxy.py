"""A TCP proxy that can be taken down: an outage of whatever server stands behind it.

Tests and benchmarks put it between dylive and a shared server (PostgreSQL) to simulate that
server failing without touching it::

    async with TcpProxy("127.0.0.1", 5432) as proxy:   # listens on 127.0.0.1:<proxy.port>
        ...                                             # connect through proxy.port
        await proxy.down()   # open connections are cut, new ones refused (nothing listens)
        await proxy.up()     # accepting again, on the same port
        proxy.freeze()       # a hung server: connections stay open, nothing is relayed
        proxy.thaw()         # relaying again (what was held is delivered)

Bytes are relayed unchanged in both directions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)


class TcpProxy:
    """Relay ``host:port`` (ours, 0 = any free port) to ``target_host:target_port``."""

    def __init__(
        self, target_host: str, target_port: int, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0  # accepted so far
        self._flowing = asyncio.Event()  # cleared while frozen
        self._flowing.set()

    async def __aenter__(self) -> TcpProxy:
        await self.up()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.down()

    @property
    def is_up(self) -> bool:
        return self._server is not None

    async def up(self) -> None:
        """Accept connections again (on the same port once one was chosen)."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def frozen(self) -> bool:
        return not self._flowing.is_set()

    def freeze(self) -> None:
        """Stop answering, as a hung server does: connections stay open and new ones are
        accepted, but no byte goes through in either direction until :meth:`thaw`."""
        self._flowing.clear()

    def thaw(self) -> None:
        """Relay again; the bytes held while frozen go through."""
        self._flowing.set()

    async def down(self) -> None:
        """Stop listening (new connections are refused) and cut every open connection."""
        self._flowing.set()  # held pipes see their sockets cut and end
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()  # a cut, not a polite close: what a crash looks like
        pipes = list(self._pipes)
        if pipes:  # they end by themselves once their sockets are cut (never cancelled)
            await asyncio.wait(pipes, timeout=5.0)
        if server is not None:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        self._writers.add(writer)
        try:
            await self._flowing.wait()
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError as exc:
            log.info("tcpproxy: cannot reach %s:%s: %s", *self.target, exc)
            writer.transport.abort()
            self._discard(task, writer)
            return
        self._writers.add(up_writer)
        try:
            await asyncio.gather(
                _pump(reader, up_writer, self._flowing), _pump(up_reader, writer, self._flowing)
            )
        finally:
            for w in (writer, up_writer):
                w.transport.abort()
            self._discard(task, writer, up_writer)

    def _discard(self, task: asyncio.Task[Any], *writers: asyncio.StreamWriter) -> None:
        self._pipes.discard(task)
        for w in writers:
            self._writers.discard(w)


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event
) -> None:
    try:
        while data := await reader.read(65536):
            await flowing.wait()
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.write_eof()
