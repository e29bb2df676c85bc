"""The live stream (SSE) against the simulator: store bytes in seq order, resumption without gaps
or repeats, the error envelope, and a stalled subscriber that neither stalls ingest nor loses data."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from support.service import end_broadcast

from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer

STREAM = f"/api/rooms/{DEFAULT_WEB_RID}/stream"


@dataclass
class Sse:
    event: str
    id: int | None
    data: bytes


def parse_sse(buffer: bytes) -> tuple[list[Sse], bytes]:
    """Complete events in ``buffer`` and the unparsed rest (comments and ``retry`` skipped)."""
    events: list[Sse] = []
    while b"\n\n" in buffer:
        block, buffer = buffer.split(b"\n\n", 1)
        event, ident, data = "message", None, b""
        for line in block.split(b"\n"):
            key, _, value = line.partition(b": ")
            if key == b"event":
                event = value.decode()
            elif key == b"id":
                ident = int(value)
            elif key == b"data":
                data = value
        if data:
            events.append(Sse(event, ident, data))
    return events, buffer


class SseReader:
    """Reads events from an open streaming response, across several ``collect`` calls."""

    def __init__(self, resp: httpx.Response) -> None:
        self._chunks = resp.aiter_raw()
        self._buffer = b""

    async def collect(self, messages: int, within: float = 20.0) -> list[Sse]:
        """Events until ``messages`` message events arrived."""
        out: list[Sse] = []
        async with asyncio.timeout(within):
            while sum(e.event == "message" for e in out) < messages:
                events, self._buffer = parse_sse(self._buffer + await anext(self._chunks))
                out.extend(events)
        return out


async def collect(resp: httpx.Response, messages: int, within: float = 20.0) -> list[Sse]:
    """Events of an open stream until ``messages`` message events arrived."""
    return await SseReader(resp).collect(messages, within)


@pytest.fixture
async def live(
    tmp_path: Path, serve_api: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Any, Any, str]]:
    async with SimServer(SimConfig(seed=7, rate=40.0, tick=0.05)) as sim:
        config = ServiceConfig(db=str(tmp_path / "s.sqlite3"), upstream=sim.base_url, signing="v2")
        async with (
            serve_api(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            svc.stream.status_interval = 0.3
            token = await tokens.create(svc.store, "stream")
            yield client, svc, sim, token
            await end_broadcast(sim, svc)


async def stored(svc: Any, after: int = 0) -> dict[int, bytes]:
    page = await svc.store.read(DEFAULT_ROOM_ID, after, 100_000, None)
    return {m.seq: m.rendered for m in page.messages}


async def test_stream_sends_store_bytes_in_order_with_status(live: Any) -> None:
    client, svc, sim, token = live
    async with client.stream("GET", STREAM, params={"token": token}) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = await collect(resp, 80)
    messages = [e for e in events if e.event == "message"]
    seqs = [e.id for e in messages]
    assert all(isinstance(s, int) for s in seqs)
    rows = await stored(svc)
    first, last = seqs[0], seqs[-1]
    assert first is not None and last is not None
    # every stored message in the range, once, in seq order, with the store's exact bytes
    assert seqs == [s for s in sorted(rows) if first <= s <= last]
    assert all(e.data == rows[e.id] for e in messages if e.id is not None)
    ids = [orjson.loads(e.data)["msg_id"] for e in messages]
    assert any(i > 2**53 for i in ids)
    for e, msg_id in zip(messages, ids, strict=True):
        assert b'"msg_id":%d,' % msg_id in e.data  # exact digits on the wire
    log_ids = [m["msg_id"] for m in sim.log(DEFAULT_WEB_RID)]
    positions = [log_ids.index(i) for i in ids]
    assert positions == sorted(positions)  # the simulator's emission order
    statuses = [orjson.loads(e.data) for e in events if e.event == "status"]
    assert statuses, "no status event"
    last_status = statuses[-1]
    assert last_status["room_id"] == DEFAULT_ROOM_ID
    assert last_status["web_rid"] == DEFAULT_WEB_RID
    assert last_status["collecting"] is True and last_status["live"] is True
    assert last_status["transport"] in {"push", "poll"}
    assert {"messages_per_second", "viewers", "likes_total", "gaps", "lagged"} <= set(last_status)


async def test_last_event_id_resumes_without_gap_or_repeat(live: Any) -> None:
    client, svc, _, token = live
    async with client.stream("GET", STREAM, params={"token": token}) as resp:
        first = [e for e in await collect(resp, 25) if e.event == "message"]
    last = first[-1].id
    assert last is not None
    await asyncio.sleep(0.5)  # more messages are stored while nobody is connected
    headers = {"Last-Event-ID": str(last)}
    async with client.stream("GET", STREAM, params={"token": token}, headers=headers) as resp:
        second = [e for e in await collect(resp, 25) if e.event == "message"]
    async with client.stream(
        "GET", STREAM, params={"token": token, "last_event_id": str(last)}
    ) as resp:
        third = [e for e in await collect(resp, 10) if e.event == "message"]
    rows = await stored(svc, last)
    expected = sorted(rows)
    assert [e.id for e in second] == expected[: len(second)]
    assert [e.id for e in third] == expected[: len(third)]
    assert not {e.id for e in first} & {e.id for e in second}
    assert all(e.data == rows[e.id] for e in second if e.id is not None)


async def test_methods_filter_and_live_only(live: Any) -> None:
    client, _, _, token = live
    params = {"token": token, "methods": "chat,member", "count": "0"}
    async with client.stream("GET", STREAM, params=params) as resp:
        events = await collect(resp, 10)
    methods = {orjson.loads(e.data)["method"] for e in events if e.event == "message"}
    assert methods and methods <= {"WebcastChatMessage", "WebcastMemberMessage"}


@pytest.mark.parametrize(
    ("path", "params", "headers", "status", "code"),
    [
        (STREAM, {}, {}, 401, 40001),
        (STREAM, {"token": "dyl_nope"}, {}, 401, 40002),
        ("/api/rooms/not-a-room!/stream", {"token": "$T"}, {}, 400, 40004),
        ("/api/rooms/999999999999/stream", {"token": "$T"}, {}, 404, 40401),
        (STREAM, {"token": "$T"}, {"Last-Event-ID": "abc"}, 400, 40005),
        (STREAM, {"token": "$T", "count": "-1"}, {}, 400, 40005),
        (STREAM, {"token": "$T", "methods": "nope"}, {}, 400, 40005),
    ],
)
async def test_stream_errors_use_the_envelope(
    live: Any, path: str, params: dict[str, str], headers: dict[str, str], status: int, code: int
) -> None:
    client, _, _, token = live
    params = {k: token if v == "$T" else v for k, v in params.items()}
    resp = await client.get(path, params=params, headers=headers)
    assert resp.status_code == status
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["code"] == code and isinstance(body["msg"], str) and "data" in body


@contextlib.asynccontextmanager
async def raw_stream(base: str, path: str) -> AsyncIterator[tuple[asyncio.StreamReader, Any]]:
    """A GET over a socket with a tiny receive buffer: a client that can really stall."""
    url = urlsplit(base)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (url.hostname, url.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
    await writer.drain()
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def test_stalled_subscriber_does_not_stall_ingest(live: Any) -> None:
    client, svc, sim, token = live
    svc.stream.queue_size = 20  # the bounded queue, small so that the stall overflows it fast
    sim.set_rate(DEFAULT_WEB_RID, 300.0)
    async with client.stream("GET", STREAM, params={"token": token, "count": "0"}) as resp:
        fast = SseReader(resp)
        await fast.collect(5)  # the room is collecting
        base = str(client.base_url).rstrip("/")
        async with raw_stream(base, f"{STREAM}?token={token}&count=0") as (reader, _):
            head = await reader.readuntil(b"\r\n\r\n")
            assert b" 200 " in head.split(b"\r\n", 1)[0]
            before = await svc.store.last_seq(DEFAULT_ROOM_ID)
            overflows = svc.stream.overflows
            # stall: read nothing from the slow socket while ingest and the fast viewer go on
            fast_events = await fast.collect(200)
            for _ in range(100):
                if svc.stream.overflows > overflows:
                    break
                await fast.collect(20)
            during = await svc.store.last_seq(DEFAULT_ROOM_ID)
            assert svc.stream.overflows > overflows, "the stalled subscriber never overflowed"
            assert during - before >= 150  # ingest kept storing during the stall
            fast_seqs = [e.id for e in fast_events if e.event == "message"]
            assert len(fast_seqs) >= 200  # the other viewer kept receiving
            # un-stall: the slow stream resumes from the store, without a gap or a repeat
            sim.set_rate(DEFAULT_WEB_RID, 40.0)
            slow: list[Sse] = []
            buffer = b""
            target = await svc.store.last_seq(DEFAULT_ROOM_ID)
            async with asyncio.timeout(30):
                while (
                    not slow
                    or (slow[-1].id or 0) < target
                    or not any(
                        e.event == "status" and orjson.loads(e.data)["lagged"] > 0 for e in slow
                    )
                ):
                    events, buffer = parse_sse(buffer + await reader.read(65536))
                    slow.extend(e for e in events if e.event == "status" or e.id is not None)
    slow_seqs = [e.id for e in slow if e.event == "message"]
    rows = await stored(svc)
    assert slow_seqs == [s for s in sorted(rows) if slow_seqs[0] <= s <= slow_seqs[-1]]
    assert slow_seqs[0] <= before + 1 and slow_seqs[-1] >= target
