"""``PushConnection`` queues the socket's binary messages in the read callback: in order (the
ones that came with the handshake's response too), a fragmented message whole (a ping between
its fragments answered), text dropped; reading pauses above the high water mark and resumes at
the low one; a lost connection is raised once the messages before it are taken.

The connection is driven without a socket: websockets' client protocol in the OPEN state on a
transport that records what is written, the server's frames fed to ``data_received``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import Protocol, State
from websockets.uri import parse_uri

from dylive.source.push import PushConnection


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.reading = True
        self.closing = False
        self.conn: Any = None

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def set_write_buffer_limits(self, high: Any = None, low: Any = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def abort(self) -> None:
        if not self.closing:
            self.closing = True
            self.conn.connection_lost(None)

    close = abort


def opened(max_queue: tuple[int, int] = (3, 1)) -> tuple[PushConnection, Transport]:
    protocol = ClientProtocol(parse_uri("ws://push.invalid/"))
    protocol.state = State.OPEN
    protocol.parser = Protocol.parse(protocol)  # the handshake is done: frames from here
    next(protocol.parser)
    conn = PushConnection(protocol, ping_interval=None, max_queue=max_queue)
    conn.response = Response(101, "Switching Protocols", Headers())
    transport = Transport()
    transport.conn = conn
    conn.connection_made(transport)  # type: ignore[arg-type]
    return conn, transport


def wire(data: bytes, opcode: Opcode = Opcode.BINARY, fin: bool = True) -> bytes:
    return Frame(opcode, data, fin=fin).serialize(mask=False)


def taken(conn: PushConnection) -> list[bytes]:
    out = []
    while conn.frames:
        out.append(conn.take())
    return out


async def test_binary_messages_in_order_text_dropped() -> None:
    conn, _ = opened(max_queue=(16, 4))
    conn.data_received(wire(b"m0") + wire(b"a text", Opcode.TEXT) + wire(b"m1"))
    conn.data_received(wire(b"m2"))
    assert taken(conn) == [b"m0", b"m1", b"m2"]


async def test_fragments_joined_around_a_ping() -> None:
    conn, transport = opened()
    conn.data_received(wire(b"ab", fin=False) + wire(b"p", Opcode.PING))
    assert not conn.frames
    assert len(transport.written) == 1  # websockets answered the ping between the fragments
    conn.data_received(wire(b"cd", Opcode.CONT, fin=False) + wire(b"ef", Opcode.CONT))
    conn.data_received(wire(b"t1", Opcode.TEXT, fin=False) + wire(b"t2", Opcode.CONT))
    assert taken(conn) == [b"abcdef"]


async def test_reading_pauses_above_high_and_resumes_at_low() -> None:
    conn, transport = opened(max_queue=(3, 1))
    for i in range(3):
        conn.data_received(wire(b"m%d" % i))
    assert transport.reading
    conn.data_received(wire(b"m3"))
    assert not transport.reading  # 4 waiting
    conn.take()
    conn.take()
    assert not transport.reading  # 2 waiting
    conn.take()
    assert transport.reading  # 1 waiting
    assert taken(conn) == [b"m3"]


async def test_a_lost_connection_after_the_messages_before_it() -> None:
    conn, transport = opened()
    conn.data_received(wire(b"m0"))
    transport.abort()
    await conn.wait()  # a message is there: no error yet
    assert taken(conn) == [b"m0"]
    with pytest.raises(ConnectionClosed):
        await conn.wait()


async def test_wait_wakes_on_a_message() -> None:
    conn, _ = opened()
    waiting = asyncio.create_task(conn.wait())
    await asyncio.sleep(0)
    assert not waiting.done()
    conn.data_received(wire(b"m0"))
    await asyncio.wait_for(waiting, 10.0)
    assert taken(conn) == [b"m0"]
