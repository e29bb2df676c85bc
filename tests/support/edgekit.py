"""Helpers for the edge tests: the app under ``dylive serve``'s uvicorn configuration on a
chosen HTTP stack, raw sockets that send exactly the bytes given, and response parsing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import uvicorn

from dylive.serve import errors
from dylive.serve.app import ServiceConfig, create_app
from dylive.serve.edge import EdgeLimits
from dylive.serve.limits import server_config

STACKS = ["httptools", "h11"]


def offline(tmp_path: Path) -> ServiceConfig:
    """Upstream unreachable (port 9): auth and parameter answers only."""
    return ServiceConfig(
        db=str(tmp_path / "edge.sqlite3"), upstream="http://127.0.0.1:9", ranklist=False
    )


@contextlib.asynccontextmanager
async def served(
    config: ServiceConfig, http: str, edge: EdgeLimits | None = None, **options: Any
) -> AsyncIterator[tuple[int, Any]]:
    """(port, app) of the app served as ``dylive serve`` serves it, on the ``http`` stack
    (``options``: more of uvicorn's, such as ``timeout_keep_alive``)."""
    app = create_app(config)
    server = uvicorn.Server(
        server_config(app, "127.0.0.1", 0, lifespan="on", http=http, edge=edge, **options)
    )
    task = asyncio.create_task(server.serve())
    try:
        await until(lambda: server.started or task.done(), what="uvicorn start")
        assert server.started, "uvicorn did not start"
        app.state.server = server  # tests look at its requests in flight
        yield server.servers[0].sockets[0].getsockname()[1], app
    finally:
        server.should_exit = True
        await task


async def until(check: Callable[[], object], within: float = 30.0, what: str = "") -> None:
    """Poll ``check`` (sync or async) until truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"condition not reached in {within}s: {what}"
        await asyncio.sleep(0.02)


async def exchange(port: int, raw: bytes, within: float = 30.0) -> bytes:
    """Send ``raw`` on a new connection; the first response (b"" if the server closed first)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        async with asyncio.timeout(within):
            return await read_response(reader)
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> bytes:
    """One response with a Content-Length (or whatever arrives until the server closes)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        return getattr(exc, "partial", b"")
    _, headers, _ = parse(head)
    if "content-length" not in headers:
        return head + await read_all(reader)
    return head + await reader.readexactly(int(headers["content-length"]))


async def read_all(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def parse(response: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers (lower-case names), body) of one HTTP/1.1 response."""
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return status, headers, body


def envelope(response: bytes) -> tuple[int, dict[str, Any]]:
    """(status, body) of a response that must be the JSON envelope with a matching status."""
    assert response, "no response before the connection closed"
    status, headers, body = parse(response)
    assert headers.get("content-type", "").startswith("application/json"), response[:300]
    data: dict[str, Any] = orjson.loads(body)
    assert set(data) == {"code", "msg", "data"}, data
    kinds = {k.code: (k.status, k.msg) for k in errors.ALL_ERRORS} | {200: (200, errors.OK_MSG)}
    assert kinds.get(data["code"]) == (status, data["msg"]), (status, data)
    return status, data


def ws_handshake(path: str, port: int) -> bytes:
    import base64

    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def client_frame(opcode: int, payload: bytes, *, length: int | None = None) -> bytes:
    """A masked client frame; ``length`` overrides the announced payload length."""
    n = len(payload) if length is None else length
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawFeed:
    """A WebSocket client on a plain socket: frames as bytes, server frames read one by one."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, path: str) -> RawFeed:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(ws_handshake(path, port))
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    async def frame(self) -> tuple[int, bytes]:
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        return first & 0x0F, await self.reader.readexactly(length)

    async def texts_until_close(self, within: float = 30.0) -> tuple[list[str], int]:
        """Text frames received, then the close code (0 when the socket closed without one)."""
        texts: list[str] = []
        async with asyncio.timeout(within):
            while True:
                try:
                    opcode, payload = await self.frame()
                except (asyncio.IncompleteReadError, ConnectionError):
                    return texts, 0
                if opcode == 0x1:
                    texts.append(payload.decode())
                elif opcode == 0x8:
                    return texts, int.from_bytes(payload[:2], "big")

    def close(self) -> None:
        self.writer.close()
