"""PushConnection hands binary messages to a callback (no ``recv()``): in wire order, the ones
read with the handshake included, fragmented ones reassembled; the push feed pauses reading
while ``_HIGH`` frames wait and resumes at ``_LOW``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from support.waiting import until
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from dylive.source.push import _HIGH, _LOW, MAX_FRAGMENTS, PushConnection, _Feed, _Silence


@asynccontextmanager
async def pushed(messages: list[bytes | str | list[bytes]]) -> AsyncIterator[PushConnection]:
    """A client PushConnection to a server that sends ``messages`` at once (a list: one
    fragmented binary message) and then waits."""

    async def handler(conn: ServerConnection) -> None:
        for m in messages:
            await conn.send(m)
        await conn.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        ws = await connect(f"ws://127.0.0.1:{port}", create_connection=PushConnection)
        assert isinstance(ws, PushConnection)
        try:
            yield ws
        finally:
            ws.transport.abort()


async def test_binary_messages_reach_the_callback_in_order() -> None:
    sent: list[bytes | str | list[bytes]] = [b"one", "text", [b"fr", b"ag", b"ment"], b"four"]
    async with pushed(sent) as ws:
        await asyncio.sleep(0.05)  # let some (or all) arrive before attach: they are kept
        got: list[bytes] = []
        texts: list[str] = []
        lost: list[bool] = []
        ws.attach(got.append, lambda: texts.append("t"), lambda: lost.append(True))
        await until(lambda: len(got) == 3, 10.0)
        assert got == [b"one", b"fragment", b"four"]
        assert texts == ["t"]
        assert lost == []
        ws.transport.abort()
        await until(lambda: lost == [True], 10.0)


async def test_the_feed_pauses_reading_while_frames_wait() -> None:
    async with pushed([b"f%d" % i for i in range(_HIGH + 3)]) as ws:
        feed = _Feed(ws, _Silence(ws, 30.0))
        ws.attach(feed.on_binary, feed.on_text, feed.wake)
        await until(lambda: len(feed.frames) >= _HIGH, 10.0)
        assert feed.paused and not ws.transport.is_reading()  # type: ignore[attr-defined]
        taken = []
        while len(feed.frames) > _LOW:
            taken.append(feed.take())
        assert not feed.paused and ws.transport.is_reading()  # type: ignore[attr-defined]
        await until(lambda: len(taken) + len(feed.frames) == _HIGH + 3, 10.0)
        while feed.frames:
            taken.append(feed.take())
        assert taken == [b"f%d" % i for i in range(_HIGH + 3)]
        feed.silence.stop()


async def test_too_many_fragments_fail_the_connection() -> None:
    async with pushed([[b"x"] * (MAX_FRAGMENTS + 2)]) as ws:
        got: list[bytes] = []
        lost: list[bool] = []
        ws.attach(got.append, lambda: None, lambda: lost.append(True))
        await until(lambda: lost == [True], 10.0)
        assert got == []
        assert ws.close_exc.sent is not None and ws.close_exc.sent.code == 1009
