"""Hostile bytes: decoding and rendering never raise; frame/header errors are ProtocolErrors.

Reproductions from the field: a RoomRank ``score_str`` of 20+ digits made the writer path
(``orjson.dumps(render(event))``) raise; an ``im-now`` header of ``²`` or of 5,000 digits made
``PushSession.receive_frame`` raise a bare ValueError; a 7.8 KB frame expanded to four million
messages (no cap on messages per Response).
"""

from __future__ import annotations

import gzip

import orjson
import pytest

from dylive.decode import DecodeFailed, RoomRankEvent, decode, render
from dylive.errors import FrameError, ProtocolError, ResponseError
from dylive.numbers import I64_MAX
from dylive.proto import webcast_pb2 as pb
from dylive.wire.frames import (
    MAX_MESSAGES,
    RawMessage,
    count_messages,
    encode_frame,
    encode_response,
    parse_frame,
    parse_response,
)
from dylive.wire.session import PushSession

RANK = "WebcastRoomRankMessage"


def rank_message(score_str: str) -> RawMessage:
    msg = pb.RoomRankMessage()
    msg.common.room_id = 7
    entry = msg.ranks.add()
    entry.user.id = 1
    entry.user.nickname = "n"
    entry.score_str = score_str
    return RawMessage(RANK, 42, msg.SerializeToString())


@pytest.mark.parametrize(
    ("score_str", "score"),
    [
        ("12345", 12345),
        ("9" * 25, I64_MAX),  # beyond 64 bits: clamped, score_str exact
        ("1" * 5000, 0),  # beyond int()'s digit limit
        ("²", 0),
        ("６１５", 0),  # full-width digits
        ("-5", 0),
    ],
)
def test_rank_scores_render_and_serialize(score_str: str, score: int) -> None:
    event = decode(rank_message(score_str))
    assert isinstance(event, RoomRankEvent)
    out = orjson.loads(orjson.dumps(render(event)))
    assert out["payload"]["ranks"][0]["score"] == score
    assert out["payload"]["ranks"][0]["score_str"] == score_str


def test_render_of_a_broken_event_is_opaque_not_an_exception() -> None:
    event = decode(rank_message("1"))
    assert isinstance(event, RoomRankEvent)
    broken = RoomRankEvent(
        method=RANK,
        msg_id=1,
        room_id=7,
        created_at=0,
        raw=b"\x01",
        ranks=(None,),  # type: ignore[arg-type]
    )
    out = render(broken)
    orjson.dumps(out)
    assert out["payload"]["raw_b64"] == "AQ==" and "render failed" in out["payload"]["error"]


def frame_with_now(now: str) -> bytes:
    body = encode_response([rank_message("1")], cursor="c", internal_ext="seq:1", now=5)
    return encode_frame(body, log_id=9, headers={"im-now": now, "im-cursor": "c2"})


@pytest.mark.parametrize("now", ["²", "1" * 5000, "12a", "６１５"])
def test_bad_im_now_header_is_a_frame_error_and_changes_nothing(now: str) -> None:
    session = PushSession(cursor="c0", internal_ext="seq:0")
    with pytest.raises(FrameError, match="im-now"):
        session.receive_frame(frame_with_now(now))
    assert (session.cursor, session.internal_ext, session.now) == ("c0", "seq:0", 0)
    assert session.data_to_send() == []
    assert len(session.receive_frame(frame_with_now("1700000000000"))) == 1  # still usable
    assert session.now == 1700000000000 and session.cursor == "c2"


def test_a_small_frame_expanding_to_millions_of_messages_is_refused() -> None:
    body = b"\x0a\x00" * 4_000_000  # 8 MB of empty messages: under the 8 MiB payload cap
    frame = encode_frame(body, log_id=1)
    assert len(frame) < 20_000
    session = PushSession()
    with pytest.raises(ResponseError, match="more than"):
        session.receive_frame(frame)
    with pytest.raises(ResponseError):
        parse_response(gzip.compress(body))  # the im/fetch path too


def test_message_cap_is_exact() -> None:
    one = RawMessage("WebcastChatMessage", 1, b"")
    at_cap = encode_response([one] * MAX_MESSAGES)
    assert len(parse_response(at_cap).messages) == MAX_MESSAGES
    with pytest.raises(ResponseError):
        parse_response(encode_response([one] * (MAX_MESSAGES + 1)))
    assert len(parse_response(encode_response([one] * 3), max_messages=3).messages) == 3
    with pytest.raises(ResponseError):
        parse_response(encode_response([one] * 4), max_messages=3)


@pytest.mark.parametrize(
    "body",
    [
        b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",  # an overlong varint length
        b"\x0a\x10\x00",  # a length past the end
        b"\x0b",  # an unterminated group
        b"\xff" * 40_000,  # garbage long enough to be walked
    ],
)
def test_malformed_responses_are_response_errors(body: bytes) -> None:
    assert count_messages(body, 10) >= 0
    with pytest.raises(ProtocolError):
        parse_response(body)


def test_malformed_frames_are_frame_errors() -> None:
    with pytest.raises(FrameError):
        parse_frame(b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff")


def test_payload_that_breaks_a_builder_is_decode_failed() -> None:
    event = decode(RawMessage(RANK, 3, b"\x12\x05garbage"))
    assert isinstance(event, DecodeFailed) and event.raw == b"\x12\x05garbage"
    orjson.dumps(render(event))


def test_gift_counts_beyond_64_bits_are_clamped() -> None:
    """repeat_count × group_count of two wire integers can exceed any JSON integer."""
    from dylive.decode import GiftEvent, GiftLedger

    msg = pb.GiftMessage()
    msg.common.room_id = 7
    msg.repeat_count = 2**63 - 1
    msg.group_count = 2**31 - 1
    msg.gift.diamond_count = 1
    event = decode(RawMessage("WebcastGiftMessage", 5, msg.SerializeToString()))
    assert isinstance(event, GiftEvent) and event.count == I64_MAX
    assert GiftLedger().delta(event) == I64_MAX
    out = orjson.loads(orjson.dumps(render(event)))
    assert out["payload"]["gift"]["count"] == I64_MAX
