"""permessage-deflate compressed once per message (serve/wsdeflate.py): the server always answers
with server_no_context_takeover, every client decodes what it is sent, and a message fanned out to
several clients is compressed once."""

from __future__ import annotations

import asyncio
import os
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from support.edgekit import served, until
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode

from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.serve.wsdeflate import SHARED, CompressedOnce, SharedDeflate, deflate
from dylive.settings import SettingError
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer


def inflate(bits: int, payload: bytes) -> bytes:
    """What a client does with one message compressed without context takeover."""
    return zlib.decompressobj(wbits=-bits).decompress(payload + b"\x00\x00\xff\xff")


def extension() -> SharedDeflate:
    return SharedDeflate(False, True, 15, 12, {"memLevel": 5})


def test_a_message_is_compressed_once_and_every_client_decodes_it() -> None:
    text = orjson.dumps({"type": "messages", "messages": [{"content": "送给主播 " * 40}]})
    first, second = extension(), extension()
    hits = SHARED.hits
    a = first.encode(Frame(Opcode.TEXT, text))
    b = second.encode(Frame(Opcode.TEXT, text))
    assert a.rsv1 and b.rsv1 and a.fin
    assert bytes(a.data) == bytes(b.data)
    assert SHARED.hits == hits + 1
    assert inflate(12, bytes(b.data)) == text
    # the client side of websockets reads it back the same way
    reader = SharedDeflate(True, False, 12, 15)
    assert bytes(reader.decode(b).data) == text


def test_small_and_fragmented_frames_are_not_cached_and_still_decode() -> None:
    ext, hits, misses = extension(), SHARED.hits, SHARED.misses
    small = ext.encode(Frame(Opcode.TEXT, b'{"type":"heartbeat"}'))
    assert inflate(12, bytes(small.data)) == b'{"type":"heartbeat"}'
    ping = ext.encode(Frame(Opcode.PING, b"x"))
    assert ping.data == b"x" and not ping.rsv1
    part = ext.encode(Frame(Opcode.TEXT, b"a" * 600, fin=False))
    rest = ext.encode(Frame(Opcode.CONT, b"b" * 600))
    whole = zlib.decompressobj(wbits=-12).decompress(
        bytes(part.data) + bytes(rest.data) + b"\x00\x00\xff\xff"
    )
    assert whole == b"a" * 600 + b"b" * 600
    assert (SHARED.hits, SHARED.misses) == (hits, misses)


def test_the_cache_is_bounded_in_bytes_and_entries() -> None:
    cache = CompressedOnce(max_bytes=20_000, max_entries=8)
    blobs = [os.urandom(3000) for _ in range(10)]
    for blob in blobs:
        assert inflate(12, cache.get(12, {}, blob)) == blob
    assert cache.bytes <= 20_000 and len(cache._lru) <= 8
    assert cache.get(12, {}, blobs[-1]) == deflate(12, {}, blobs[-1])
    assert cache.hits == 1
    small = CompressedOnce(max_bytes=10**9, max_entries=3)
    for blob in blobs:
        small.get(9, {}, blob)
    assert len(small._lru) == 3


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[ServiceConfig]:
    async with SimServer(SimConfig(seed=11, rate=20.0)) as sim:
        yield ServiceConfig(db=str(tmp_path / "d.sqlite3"), upstream=sim.base_url, signing="off")


async def test_feed_clients_negotiate_no_context_takeover_and_share_compression(
    live: ServiceConfig,
) -> None:
    async with served(live, "httptools") as (port, app):
        token = await tokens.create(app.state.svc.store, "t")
        url = f"ws://127.0.0.1:{port}/api/rooms/{DEFAULT_WEB_RID}/ws?token={token}"
        received: list[list[int]] = [[], []]
        hits = SHARED.hits

        async def read(i: int, ws: object) -> None:
            async for text in ws:  # type: ignore[attr-defined]
                frame = orjson.loads(text)
                if frame["type"] == "messages":
                    received[i].extend(int(m["msg_id"]) for m in frame["messages"])

        async with connect(url) as one, connect(url) as two:
            for ws in (one, two):
                offered = ws.response.headers["Sec-WebSocket-Extensions"]
                assert "permessage-deflate" in offered
                assert "server_no_context_takeover" in offered
            tasks = [asyncio.create_task(read(i, ws)) for i, ws in enumerate((one, two))]
            try:
                await until(
                    lambda: SHARED.hits > hits and min(map(len, received)) >= 20,
                    what="a messages frame compressed once for both clients",
                )
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        both = set(received[0]) & set(received[1])
        assert len(both) >= 10
        assert [m for m in received[0] if m in both] == [m for m in received[1] if m in both]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("per-client", "permessage-deflate"), ("off", None), ("bogus", "error")],
)
async def test_the_setting_chooses_the_compression(
    live: ServiceConfig, monkeypatch: pytest.MonkeyPatch, mode: str, expected: str | None
) -> None:
    monkeypatch.setenv("DYLIVE_WS_COMPRESSION", mode)
    if expected == "error":
        with pytest.raises(SettingError, match="DYLIVE_WS_COMPRESSION must be one of"):
            async with served(live, "httptools"):
                pass
        return
    async with served(live, "httptools") as (port, app):
        token = await tokens.create(app.state.svc.store, "t")
        url = f"ws://127.0.0.1:{port}/api/rooms/{DEFAULT_WEB_RID}/ws?token={token}"
        async with connect(url) as ws:
            offered = ws.response.headers.get("Sec-WebSocket-Extensions")
            assert orjson.loads(await ws.recv())["type"] in {"hello", "live_status"}
    if expected is None:
        assert offered is None
    else:
        assert offered is not None and expected in offered
        assert "server_no_context_takeover" not in offered
