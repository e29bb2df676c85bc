"""Bounded fuzzing of frame → decode → render: zero uncaught exceptions.

Inputs: random bytes; the real im/fetch captures truncated, bit-flipped and spliced together;
real message payloads mutated the same way under every method of the decoder table; messages
whose numbers are the extremes of their wire types. The only exceptions allowed out of the
codec are ProtocolErrors; ``decode`` and ``render`` (and the service's direct renderer) never
raise, and what ``render`` returns always serializes. Example counts are fixed and the runs
derandomized, so the suite stays bounded and repeatable.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dylive.decode import DECODERS, decode, render
from dylive.decode.direct import render_direct
from dylive.errors import ProtocolError
from dylive.proto import webcast_pb2 as pb
from dylive.wire.frames import RawMessage, encode_frame, parse_frame, parse_response
from dylive.wire.session import PushSession

CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "captures"
BODIES = [bytes.fromhex(p.read_text().strip()) for p in sorted(CAPTURES.glob("*.hex"))]
PAYLOADS = [m.payload for body in BODIES for m in parse_response(body).messages]
METHODS = [*sorted(DECODERS), "WebcastSomethingNew"]
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check_message(raw: RawMessage) -> None:
    """decode + render + serialize never raise; the direct renderer agrees or declines."""
    event = decode(raw, room_id=7)
    out = orjson.dumps(render(event))
    direct = render_direct(raw, room_id=7)
    if direct is not None:
        assert direct.json == out


def check_body(body: bytes) -> None:
    try:
        batch = parse_response(body)
    except ProtocolError:
        return
    for raw in batch.messages:
        check_message(raw)


@st.composite
def mutated(draw: st.DrawFn, sources: list[bytes]) -> bytes:
    """A real blob truncated, bit-flipped, spliced with another, or with bytes inserted."""
    data = bytearray(draw(st.sampled_from(sources)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "splice", "insert"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if op == "truncate":
            data = data[:at]
        elif op == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "splice":
            other = draw(st.sampled_from(sources))
            cut = draw(st.integers(0, len(other)))
            data = data[:at] + other[cut:]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=12))
    return bytes(data)


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    check_body(data)
    with contextlib.suppress(ProtocolError):
        parse_frame(data)
    session = PushSession()
    with contextlib.suppress(ProtocolError):
        session.receive_frame(data)
    for method in ("WebcastChatMessage", "WebcastRoomRankMessage", "WebcastGiftMessage"):
        check_message(RawMessage(method, 1, data))


@FUZZ
@given(mutated(BODIES))
def test_mutated_captures(body: bytes) -> None:
    check_body(body)


@FUZZ
@given(mutated(PAYLOADS), st.sampled_from(METHODS), st.integers(0, 2**64 - 1))
def test_mutated_payloads_under_every_method(payload: bytes, method: str, msg_id: int) -> None:
    check_message(RawMessage(method, msg_id, payload))


@FUZZ
@given(
    mutated(BODIES),
    st.dictionaries(
        st.sampled_from(["im-now", "im-cursor", "im-internal_ext", "compress_type", "x"]),
        st.one_of(st.text(max_size=30), st.just("1" * 5000), st.just("²")),
        max_size=4,
    ),
    st.booleans(),
)
def test_frames_with_mutated_bodies_and_headers(
    body: bytes, headers: dict[str, str], compress: bool
) -> None:
    frame = encode_frame(body, log_id=1, headers=headers, compress=compress)
    session = PushSession()
    try:
        messages = session.receive_frame(frame)
    except ProtocolError:
        return
    for raw in messages:
        check_message(raw)
    session.data_to_send()


EXTREMES = st.sampled_from([0, 1, 2**31 - 1, 2**32 - 1, 2**63 - 1, 2**63, 2**64 - 1])
TEXTS = st.one_of(
    st.text(max_size=40),
    st.just("9" * 25),
    st.just("1" * 5000),
    st.just("²"),
    st.just("６１５"),
)


@FUZZ
@given(EXTREMES, EXTREMES, EXTREMES, TEXTS, TEXTS)
def test_extreme_numbers_in_real_message_types(
    a: int, b: int, c: int, text: str, score: str
) -> None:
    common = {"room_id": a, "msg_id": b, "create_time": c}
    messages = [
        ("WebcastRoomRankMessage", pb.RoomRankMessage()),
        ("WebcastGiftMessage", pb.GiftMessage()),
        ("WebcastRoomUserSeqMessage", pb.RoomUserSeqMessage()),
        ("WebcastLikeMessage", pb.LikeMessage()),
        ("WebcastChatMessage", pb.ChatMessage()),
    ]
    for method, msg in messages:
        for key, value in common.items():
            put(msg.common, key, value)
        if method == "WebcastRoomRankMessage":
            entry = msg.ranks.add()
            entry.score_str = score
            put(entry.user, "id", a)
            entry.user.nickname = text
        elif method == "WebcastGiftMessage":
            for key, value in (("repeat_count", a), ("combo_count", b), ("group_count", c)):
                put(msg, key, value)
            put(msg.gift, "diamond_count", a)
            msg.gift.name = text
        elif method == "WebcastRoomUserSeqMessage":
            put(msg, "total", a)
            put(msg, "total_user", b)
            msg.total_user_str = score
        elif method == "WebcastLikeMessage":
            put(msg, "count", a)
            put(msg, "total", c)
        else:
            msg.content = text
            put(msg.user, "id", c)
        check_message(RawMessage(method, b, msg.SerializeToString()))


def put(msg: object, field: str, value: int) -> None:
    """Set a numeric field to ``value``, or to the largest its wire type holds."""
    for candidate in (value, 2**63 - 1, 2**32 - 1, 2**31 - 1):
        try:
            setattr(msg, field, candidate)
            return
        except ValueError:
            continue
