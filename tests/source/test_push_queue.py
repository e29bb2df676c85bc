"""A push socket's receive queue is bounded (websockets' ``max_queue``, ``PUSH_QUEUE``): while
the consumer of ``push_stream`` does not take, reading pauses with at most the high water mark
of frames waiting plus what came in the same socket read; taking resumes it and every frame
arrives, in order (a text message skipped, a fragmented one whole); closing a paused socket
still completes the closing handshake (the
server's close frame is read, the socket is not aborted)."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import pytest
from support.waiting import until
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from dylive.source import push
from dylive.source.credentials import Identity
from dylive.source.push import PUSH_QUEUE, PushOptions, push_stream
from dylive.source.room import RoomInfo
from dylive.source.transport import Position
from dylive.wire.frames import RawMessage, encode_frame, encode_response

#: Frames of ~100 KB (incompressible): a socket read (256 KiB on asyncio and uvloop) carries at
#: most two whole ones, so the queue can overshoot the high water mark by two at most.
SIZE = 100_000
PER_READ = 2
COUNT = 30


def frame(i: int) -> bytes:
    msg = RawMessage("WebcastChatMessage", 1_000 + i, os.urandom(SIZE))
    return encode_frame(encode_response([msg], cursor=f"c-{i}", now=1_700_000_000_000), log_id=i)


async def test_a_stalled_consumer_pauses_reading_at_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames = [frame(i) for i in range(COUNT)]

    async def handler(conn: ServerConnection) -> None:
        await conn.send("a text message")  # skipped
        await conn.send([frames[0][:1000], frames[0][1000:]])  # fragmented
        for f in frames[1:]:
            await conn.send(f)
        with contextlib.suppress(ConnectionClosed):
            while True:  # more until the client closes: its reading pauses again
                await conn.send(frames[-1])

    sockets: list[ClientConnection] = []
    real_open = push.open_socket

    async def recorded(*args: Any) -> ClientConnection:
        ws = await real_open(*args)
        sockets.append(ws)
        return ws

    monkeypatch.setattr(push, "open_socket", recorded)
    info = RoomInfo(web_rid="1", room_id=7, status=2, user_unique_id="7")
    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        stream = push_stream(
            f"ws://127.0.0.1:{port}/", info, Identity(), Position(), PushOptions(ping_interval=None)
        )
        cursors = [(await anext(stream)).position.cursor]  # then the consumer stops taking
        (ws,) = sockets
        queue = ws.recv_messages.frames
        await until(lambda: not ws.transport.is_reading(), 10.0, "reading paused")
        assert PUSH_QUEUE[0] < len(queue) <= PUSH_QUEUE[0] + PER_READ
        assert len(queue) + 1 < COUNT  # the rest was not read
        while len(queue) > PUSH_QUEUE[1]:
            cursors.append((await anext(stream)).position.cursor)
        assert ws.transport.is_reading()
        while len(cursors) < COUNT:
            cursors.append((await anext(stream)).position.cursor)
        assert cursors == [f"c-{i}" for i in range(COUNT)]
        # paused again: closing still completes the handshake
        await until(lambda: not ws.transport.is_reading(), 10.0, "reading paused again")
        await stream.aclose()  # type: ignore[attr-defined]
        await ws.wait_closed()
        assert ws.close_exc.rcvd is not None  # the server's close frame was read: no abort
