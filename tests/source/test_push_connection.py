"""``PushConnection`` feeds the push session in the read callback: deliveries in order (frames
that came with the handshake's response included), a fragmented message whole, text skipped,
acks queued when the frame is read, a corrupt frame's error after the deliveries before it and
nothing after it, the server's "close" frame last; reading pauses above the high water mark and
resumes at the low one; a lost connection is raised once the deliveries before it are taken.

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

from dylive.errors import ProtocolError
from dylive.source.push import PushConnection, _Acks, _Silence
from dylive.source.transport import Delivery
from dylive.wire.frames import RawMessage, encode_frame, encode_response
from dylive.wire.session import PushSession


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


def attach(conn: PushConnection) -> tuple[PushSession, _Acks]:
    session = PushSession()
    acks = _Acks(conn, 0.0)
    conn.attach(session, acks, _Silence(conn, 3600.0))
    return session, acks


def push_frame(i: int, *, kind: str = "msg") -> bytes:
    msg = RawMessage("WebcastChatMessage", 1_000 + i, b"x%d" % i)
    payload = encode_response([msg], cursor=f"c-{i}", now=1_700_000_000_000, need_ack=True)
    return encode_frame(payload if kind == "msg" else b"", log_id=i, payload_type=kind)


def wire(data: bytes, opcode: Opcode = Opcode.BINARY, fin: bool = True) -> bytes:
    return Frame(opcode, data, fin=fin).serialize(mask=False)


def cursors(conn: PushConnection) -> list[str]:
    out = []
    while conn.deliveries:
        item = conn.take()
        assert isinstance(item, Delivery), item
        out.append(item.position.cursor)
    return out


async def test_frames_before_attach_come_first_in_order() -> None:
    conn, _ = opened()
    conn.data_received(wire(push_frame(0)) + wire(push_frame(1)))
    assert not conn.deliveries  # no session yet: kept raw
    attach(conn)
    conn.data_received(wire(push_frame(2)))
    assert cursors(conn) == ["c-0", "c-1", "c-2"]


async def test_fragments_joined_text_skipped_acks_queued_on_read() -> None:
    conn, transport = opened()
    attach(conn)
    data = push_frame(0)
    conn.data_received(wire(data[:7], fin=False) + wire(b"p", Opcode.PING))
    assert not conn.deliveries
    assert len(transport.written) == 1  # websockets answered the ping between the fragments
    conn.data_received(wire(data[7:20], Opcode.CONT, fin=False) + wire(data[20:], Opcode.CONT))
    conn.data_received(wire(b"a text message", Opcode.TEXT))
    assert len(transport.written) == 2  # the ack, written when the frame was read
    assert cursors(conn) == ["c-0"]


async def test_a_corrupt_frame_ends_the_deliveries() -> None:
    conn, transport = opened(max_queue=(16, 4))
    attach(conn)
    conn.data_received(wire(push_frame(0)) + wire(b"\xff\xff not a frame") + wire(push_frame(2)))
    first = conn.take()
    assert isinstance(first, Delivery) and first.position.cursor == "c-0"
    assert isinstance(conn.take(), ProtocolError)
    assert not conn.deliveries  # what came after it was dropped
    assert len(transport.written) == 1  # and not acked


async def test_the_server_close_frame_is_the_last_delivery() -> None:
    conn, _ = opened()
    attach(conn)
    conn.data_received(wire(push_frame(0, kind="close")) + wire(push_frame(1)))
    last = conn.take()
    assert isinstance(last, Delivery) and last.closed
    assert not conn.deliveries


async def test_reading_pauses_above_high_and_resumes_at_low() -> None:
    conn, transport = opened(max_queue=(3, 1))
    attach(conn)
    for i in range(3):
        conn.data_received(wire(push_frame(i)))
    assert transport.reading
    conn.data_received(wire(push_frame(3)))
    assert not transport.reading  # 4 waiting
    conn.take()
    conn.take()
    assert not transport.reading  # 2 waiting
    conn.take()
    assert transport.reading  # 1 waiting
    assert cursors(conn) == ["c-3"]


async def test_a_lost_connection_after_the_deliveries_before_it() -> None:
    conn, transport = opened()
    attach(conn)
    conn.data_received(wire(push_frame(0)))
    transport.abort()
    await conn.wait()  # a delivery is there: no error yet
    assert cursors(conn) == ["c-0"]
    with pytest.raises(ConnectionClosed):
        await conn.wait()


async def test_wait_wakes_on_a_delivery() -> None:
    conn, _ = opened()
    attach(conn)
    waiting = asyncio.create_task(conn.wait())
    await asyncio.sleep(0)
    assert not waiting.done()
    conn.data_received(wire(push_frame(0)))
    await asyncio.wait_for(waiting, 10.0)
    assert cursors(conn) == ["c-0"]
