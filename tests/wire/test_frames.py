"""Frame codec and sans-I/O push session, tested with bytes."""

from __future__ import annotations

import gzip

import pytest

from dylive.errors import FrameError, PayloadTooLarge, ResponseError
from dylive.proto import webcast_pb2 as pb
from dylive.wire.frames import (
    GUNZIP_RATIO,
    HEARTBEAT_FRAME,
    MAX_PAYLOAD,
    RawMessage,
    build_ack,
    encode_frame,
    encode_response,
    gunzip,
    parse_frame,
    parse_response,
)
from dylive.wire.session import PushSession


def _msg_frame(
    *, need_ack: bool = True, ext: str = "ext-body", header_ext: str | None = None
) -> bytes:
    body = encode_response(
        [RawMessage("WebcastChatMessage", 7041032912153662503, b"\x1a\x02hi")],
        cursor="c-1",
        internal_ext=ext,
        fetch_interval=1000,
        now=1639368239569,
        heartbeat_duration=15,
        need_ack=need_ack,
        push_server="wss://example/webcast/im/push/v2/",
    )
    headers = {"im-cursor": "c-h"}
    if header_ext is not None:
        headers["im-internal_ext"] = header_ext
    return encode_frame(body, log_id=123456789012345678, seq_id=703, headers=headers)


def test_heartbeat_bytes_are_the_browsers() -> None:
    assert HEARTBEAT_FRAME == bytes.fromhex("3a026862")
    frame = pb.PushFrame()
    frame.ParseFromString(HEARTBEAT_FRAME)
    assert frame.payload_type == "hb"
    assert PushSession().heartbeat() == HEARTBEAT_FRAME


def test_ack_bytes() -> None:
    ack = build_ack(5, "x")
    assert ack == bytes.fromhex("1005320270623a0361636b420178")
    frame = pb.PushFrame()
    frame.ParseFromString(ack)
    assert (frame.log_id, frame.payload_type, frame.payload) == (5, "ack", b"x")


def test_session_decodes_gzip_frame_and_acks_with_header_ext() -> None:
    session = PushSession()
    msgs = session.receive_frame(_msg_frame(header_ext="ext-header"))
    assert msgs == [RawMessage("WebcastChatMessage", 7041032912153662503, b"\x1a\x02hi")]
    assert session.cursor == "c-h"
    assert session.internal_ext == "ext-header"
    assert session.heartbeat_duration == 15
    assert session.heartbeat_interval == 15.0
    assert session.push_server.startswith("wss://example")
    (ack,) = session.data_to_send()
    frame = pb.PushFrame()
    frame.ParseFromString(ack)
    assert frame.log_id == 123456789012345678
    assert frame.payload_type == "ack"
    assert frame.payload == b"ext-header"
    assert session.data_to_send() == []


def test_session_acks_with_response_ext_without_header() -> None:
    session = PushSession()
    session.receive_frame(_msg_frame(ext="from-response"))
    (ack,) = session.data_to_send()
    frame = pb.PushFrame()
    frame.ParseFromString(ack)
    assert frame.payload == b"from-response"


def test_no_ack_when_not_needed() -> None:
    session = PushSession()
    session.receive_frame(_msg_frame(need_ack=False))
    assert session.data_to_send() == []


def test_hb_and_close_frames() -> None:
    session = PushSession()
    assert session.receive_frame(encode_frame(b"", log_id=1, payload_type="hb")) == []
    assert session.heartbeats_received == 1
    assert session.receive_frame(encode_frame(b"", log_id=1, payload_type="close")) == []
    assert session.closed_by_server


def test_heartbeat_interval_floor() -> None:
    session = PushSession()
    assert session.heartbeat_interval == 10.0


def test_gzip_bomb_is_an_error() -> None:
    bomb = gzip.compress(b"\0" * (9 * 1024 * 1024))
    frame = pb.PushFrame(payload_type="msg", payload=bomb)
    frame.headers.add(key="compress_type", value="gzip")
    with pytest.raises(PayloadTooLarge):
        parse_frame(frame.SerializeToString())


def test_corrupt_gzip_and_truncated_protobuf() -> None:
    frame = pb.PushFrame(payload_type="msg", payload=b"\x1f\x8bnot gzip")
    frame.headers.add(key="compress_type", value="gzip")
    with pytest.raises(FrameError):
        parse_frame(frame.SerializeToString())
    with pytest.raises(FrameError):
        parse_frame(b"\x0a\xff\x01")
    with pytest.raises(ResponseError):
        parse_response(b"\x0a\x10\x0a")


def test_bare_response_gzipped_or_not() -> None:
    body = encode_response([RawMessage("M", 1, b"")], cursor="c")
    assert parse_response(body).cursor == "c"
    assert parse_response(gzip.compress(body)).messages[0].method == "M"


def test_method_names_are_shared_between_messages() -> None:
    """Every message keeps its method name until it is stored and in the store's tail cache:
    one str per name, not one per message."""
    body = encode_response([RawMessage("WebcastChatMessage", i, b"") for i in (1, 2)], cursor="c")
    first, second = parse_response(body).messages
    again = parse_response(body).messages[0]
    assert first.method is second.method is again.method


@pytest.mark.parametrize("log_id", [0, 1, 127, 128, 300, 2**32, 2**63, 2**64 - 1])
@pytest.mark.parametrize("ext", ["", "x", "é" * 70, "a" * 200, "z" * 20_000])
def test_ack_bytes_are_the_generated_classs(log_id: int, ext: str) -> None:
    """build_ack writes the bytes by hand: exactly what the generated PushFrame serializes."""
    frame = pb.PushFrame(
        log_id=log_id, payload_type="ack", payload_encoding="pb", payload=ext.encode()
    )
    assert build_ack(log_id, ext) == frame.SerializeToString()


@pytest.mark.parametrize("log_id", [-1, 2**64])
def test_ack_log_id_out_of_range(log_id: int) -> None:
    with pytest.raises(ValueError):
        build_ack(log_id, "x")


@pytest.mark.parametrize("size", [0, 10, 3_000, 60_000])
def test_gunzip_small_and_large_payloads(size: int) -> None:
    """Small payloads are inflated in one call, larger ones through a bounded decompressor."""
    data = bytes(range(256)) * (size // 256) + b"a" * (size % 256)
    packed = gzip.compress(data)
    assert gunzip(packed) == data
    assert gunzip(packed, limit=len(packed) * GUNZIP_RATIO + 1) == data  # one-call path
    with pytest.raises(PayloadTooLarge):
        gunzip(gzip.compress(b"\0" * 5_000), limit=4_999)  # one-call path over the limit


@pytest.mark.parametrize("limit", [10_000, MAX_PAYLOAD])  # a decompressor, one call
def test_gunzip_rejects_bad_and_truncated_payloads(limit: int) -> None:
    packed = gzip.compress(b"hello " * 500)
    with pytest.raises(FrameError, match="truncated"):
        gunzip(packed[:-6], limit)
    with pytest.raises(FrameError, match="bad gzip"):
        gunzip(b"\x1f\x8b\x00\x00garbage", limit)
