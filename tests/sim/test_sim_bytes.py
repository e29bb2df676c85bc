"""The push socket's bytes on the wire are pinned for a fixed seed and a fixed clock.

A raw TCP client (no WebSocket library) records every byte the simulator writes after the
101 handshake: live frames of shared batches, a catch-up from an old position, frames of a room
with the duplicate and corrupt faults on, a masked-guest room (era 2026) and
heartbeat answers. The clock (``time.time_ns``) is fixed and the generation ticks are driven by
the test, so the bytes depend on the seed only. An optimisation of the send path must leave
these digests as they are.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from dylive.proto import webcast_pb2 as pb
from dylive.sim import SimConfig, SimServer
from dylive.sim.positions import push_ext
from dylive.wire.frames import HEARTBEAT_FRAME

from .conftest import push_params

START_MS = 1_765_000_000_000
TICK_MS = 250
MASK = b"\x01\x02\x03\x04"

#: sha256 of the bytes each socket received after its handshake (see the scenarios below)
PINNED = {
    "live": "082c7605537e2441fb3f001994ee0254e551f474336e7f612fa2fb696bde44c0",
    "catch_up": "5d3603d78ee18ec3ace1b750927b4620cfda8fb0e04aed28c9d26b7b368a3e3c",
    "faults": "390a070c479b7f50e021f35d62194e6a5611d2be6ec16812a29a22a3fda20a23",
    "masked": "12aeae3dc6b55081208e10f0e7af59a3f5edb6c3445ae35e59a0f04688b929c5",
}


class Clock:
    def __init__(self) -> None:
        self.ms = START_MS

    def time_ns(self) -> int:
        return self.ms * 1_000_000


class RawSocket:
    """A WebSocket client on a bare stream: sends masked frames, records every received byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.received = bytearray()
        self.frames: list[bytes] = []  # payloads of the binary frames received
        self.seen = -1  # the position of the last frame waited for

    @classmethod
    async def open(cls, port: int, query: dict[str, str]) -> RawSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            (
                f"GET /webcast/im/push/v2/?{urlencode(query)} HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: ZHlsaXZlLXNpbWNvc3QtMQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    def send(self, payload: bytes) -> None:
        assert len(payload) < 126
        masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
        self.writer.write(bytes([0x82, 0x80 | len(payload)]) + MASK + masked)

    async def frame(self) -> bytes:
        """The next frame's payload (its header and payload are recorded)."""
        async with asyncio.timeout(10):
            head = await self.reader.readexactly(2)
            size = head[1] & 0x7F
            ext = b""
            if size == 126:
                ext = await self.reader.readexactly(2)
                size = struct.unpack("!H", ext)[0]
            elif size == 127:
                ext = await self.reader.readexactly(8)
                size = struct.unpack("!Q", ext)[0]
            payload = await self.reader.readexactly(size)
        self.received += head + ext + payload
        self.frames.append(payload)
        return payload

    async def frames_until_seq(self, pos: int) -> None:
        """Frames until one whose internal_ext says ``seq:<pos>`` (acking each)."""
        while True:
            frame = _frame(await self.frame())
            if frame.log_id:
                self.send(b"\x10" + _varint(frame.log_id) + b":\x03ack")  # log_id, payload_type
            ext = {h.key: h.value for h in frame.headers}.get("im-internal_ext", "")
            if f"|seq:{pos}|" in ext:
                self.seen = pos
                return

    def digest(self) -> str:
        return hashlib.sha256(self.received).hexdigest()

    def close(self) -> None:
        self.writer.close()


def _frame(data: bytes) -> Any:
    """The PushFrame (its payload left as sent: a corrupt one is not gunzipped)."""
    frame = pb.PushFrame()
    frame.ParseFromString(data)
    return frame


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


async def _scenario(monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, str], dict[str, Any]]:
    clock = Clock()
    monkeypatch.setattr(time, "time_ns", clock.time_ns)
    cfg = SimConfig(seed=11, rate=12.0, tick=TICK_MS / 1000, ping_interval=None,
                    ping_timeout=None, heartbeat_timeout=600.0)  # fmt: skip
    async with SimServer(cfg) as server:
        await server.sim.stop_clocks()  # the test drives the ticks
        rooms = [server.room_obj(r["web_rid"]) for r in server.rooms() if r["live"]]
        plain, faulty, masked = rooms[0], rooms[1], rooms[2]
        server.set_faults(faulty.web_rid, duplicates=0.4, corrupt=0.2)
        server.set_era(masked.web_rid, mask_guests=True, wire_2026=True)
        for _ in range(8):  # some history for the catch-up socket
            clock.ms += TICK_MS
            for room in rooms:
                room.tick(clock.ms, TICK_MS / 1000)
        sockets = {
            "live": await RawSocket.open(server.port, push_params(plain.room_id)),
            "catch_up": await RawSocket.open(
                server.port,
                push_params(plain.room_id, internal_ext=push_ext(plain.room_id, "1", 1, 3, 0)),
            ),
            "faults": await RawSocket.open(server.port, push_params(faulty.room_id)),
            "masked": await RawSocket.open(server.port, push_params(masked.room_id)),
        }
        room_of = {"live": plain, "catch_up": plain, "faults": faulty, "masked": masked}
        await sockets["catch_up"].frames_until_seq(plain.head)
        for turn in range(12):
            clock.ms += TICK_MS
            for room in rooms:
                room.tick(clock.ms, TICK_MS / 1000)
            for name, sock in sockets.items():
                if sock.seen < room_of[name].head:  # a tick may emit nothing
                    await sock.frames_until_seq(room_of[name].head)
            if turn % 4 == 3:
                for sock in sockets.values():
                    sock.send(HEARTBEAT_FRAME)
                    assert _frame(await sock.frame()).payload_type == "hb"
        for sock in sockets.values():
            sock.close()
        return {name: sock.digest() for name, sock in sockets.items()}, server.stats()


async def test_push_bytes_are_pinned_for_a_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    got, stats = await _scenario(monkeypatch)
    assert stats["corrupt_frames"] > 0 and stats["duplicates_sent"] > 0  # the custom paths ran
    assert got == PINNED
