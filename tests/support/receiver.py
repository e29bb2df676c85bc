"""A real local webhook receiver for tests and the delivery benchmark (asyncio, HTTP/1.1).

It verifies every request's ``X-Dylive-Signature`` against the secret (or ``X-Dylive-Signature-
Previous``, sent during a secret rotation), or runs ``check`` instead when one is given; fails a seeded fraction
of requests with 503 (after reading them), can add latency, answer with a redirect, a huge
body or never, and records every acknowledged message's msg_id per room, in arrival order.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson


@dataclass
class Receiver:
    secret: str = ""
    fail: float = 0.0  # fraction of requests answered 503
    latency: float = 0.0  # seconds before answering
    mode: str = "ok"  # ok | fail | redirect | huge | hang
    seed: int = 1
    got: dict[int, list[int]] = field(default_factory=dict)  # room -> msg_ids acknowledged
    requests: int = 0
    failed: int = 0
    bad_signatures: int = 0
    headers: list[dict[str, str]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # now - stored... set by caller
    port: int = 0
    check: Callable[[dict[str, str], bytes], bool] | None = None  # replaces the signature check
    bodies: list[bytes] = field(default_factory=list)  # every request's raw body

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.on_ack: list[tuple[float, dict[str, object]]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def all_ids(self, room: int | None = None) -> set[int]:
        rooms = [room] if room is not None else list(self.got)
        return {i for r in rooms for i in self.got.get(r, [])}

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:  # hanging answers too: no socket outlives the receiver
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                headers, body = request
                status, reply = await self._answer(headers, body)
                if status == 0:
                    await asyncio.sleep(3600)  # hang
                writer.write(
                    b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n"
                    % (
                        status,
                        len(reply),
                        b"Location: http://example.com/\r\n" if status == 302 else b"",
                    )
                    + reply
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _answer(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        self.requests += 1
        self.headers.append(headers)
        self.bodies.append(body)
        if self.latency:
            await asyncio.sleep(self.latency)
        if not self._signed(headers, body):
            self.bad_signatures += 1
            return 401, b"bad signature"
        if self.mode == "hang":
            return 0, b""
        if self.mode == "redirect":
            return 302, b""
        if self.mode == "huge":
            return 500, b"x" * 5_000_000
        if self.mode == "fail" or self._rng.random() < self.fail:
            self.failed += 1
            return 503, b"try later"
        payload = orjson.loads(body)
        room = int(payload["room_id"])
        ids = [int(m["msg_id"]) for m in payload["messages"]]
        self.got.setdefault(room, []).extend(ids)
        self.on_ack.append((time.time(), payload))
        return 200, b"ok"

    def _signed(self, headers: dict[str, str], body: bytes) -> bool:
        if self.check is not None:
            return self.check(headers, body)
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        given = (headers.get("x-dylive-signature", ""), headers.get("x-dylive-signature-previous"))
        return any(hmac.compare_digest(expected, g) for g in given if g is not None)


async def _read_request(reader: asyncio.StreamReader) -> tuple[dict[str, str], bytes] | None:
    line = await reader.readline()
    if not line:
        return None
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        key, _, value = raw.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return headers, body
