"""Push acks share socket writes: each ack stays its own WebSocket frame, in order, but the acks
queued within ``ack_delay`` leave in one write to the transport (one syscall, one TLS record on
wss://); with a delay of 0 each ack is written at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from support.waiting import until
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from dylive.source.push import _Acks, client_frames


@asynccontextmanager
async def linked() -> AsyncIterator[tuple[ClientConnection, list[bytes], list[int]]]:
    """A real WebSocket pair on loopback: the client, what the server received, and the sizes
    of the client's writes to its transport (the real write still happens)."""
    received: list[bytes] = []

    async def handler(conn: ServerConnection) -> None:
        async for message in conn:
            received.append(message if isinstance(message, bytes) else message.encode())

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}") as ws:
            writes: list[int] = []
            real = ws.transport.write

            def counted(data: Any) -> None:
                writes.append(len(data))
                real(data)

            ws.transport.write = counted  # type: ignore[method-assign]
            yield ws, received, writes


async def test_acks_within_the_delay_leave_in_one_write() -> None:
    async with linked() as (ws, received, writes):
        acks = _Acks(ws, delay=0.2)
        for i in range(3):
            acks.add([b"ack-%d" % i])
        assert writes == []  # held for the delay
        await until(lambda: len(received) == 3, 10.0)
        assert received == [b"ack-0", b"ack-1", b"ack-2"]  # three frames, in order
        assert len(writes) == 1  # one write for the three


async def test_no_delay_writes_each_ack_at_once() -> None:
    async with linked() as (ws, received, writes):
        acks = _Acks(ws, delay=0.0)
        for i in range(3):
            acks.add([b"ack-%d" % i])
        assert len(writes) == 3
        await until(lambda: len(received) == 3, 10.0)
        assert received == [b"ack-0", b"ack-1", b"ack-2"]


async def test_stop_writes_what_is_pending() -> None:
    async with linked() as (ws, received, writes):
        acks = _Acks(ws, delay=3600)
        acks.add([b"last-a", b"last-b"])
        acks.stop()
        assert len(writes) == 1
        await until(lambda: len(received) == 2, 10.0)
        assert received == [b"last-a", b"last-b"]


async def test_acks_of_every_length_arrive_as_written() -> None:
    """The acks' frames are built here (client_frames: masked, one urandom for all): the
    server reads each payload back, across the 7-, 16- and 64-bit lengths."""
    payloads = [b"", b"a", b"b" * 125, b"c" * 126, b"d" * 65_535, b"e" * 65_536, bytes(range(256))]
    async with linked() as (ws, received, writes):
        acks = _Acks(ws, delay=0.0)
        acks.add(payloads)
        assert len(writes) == 1
        await until(lambda: len(received) == len(payloads), 10.0)
        assert received == payloads


def test_client_frames_parse_as_websockets_frames() -> None:
    frames = [b"x" * n for n in (0, 5, 125, 126, 65_535, 65_536)]
    reader = StreamReader()
    reader.feed_data(b"".join(client_frames(frames)))
    for data in frames:
        parser = Frame.parse(reader.read_exact, mask=True)
        with pytest.raises(StopIteration) as done:
            next(parser)
        frame = done.value.value
        assert (frame.opcode, frame.fin, frame.data) == (Opcode.BINARY, True, data)
