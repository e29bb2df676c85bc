"""The service's direct renderer writes exactly the bytes of the typed path
(``orjson.dumps(render(decode(raw)))``): on the real captures, on every directly rendered
method with random users (empty, unicode, ids beyond 2^63), and it hands everything else back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from dylive.decode import decode, render
from dylive.decode.direct import DIRECT, render_direct
from dylive.proto import webcast_pb2 as pb
from dylive.wire.frames import RawMessage, parse_response

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "captures"
ROOM = 6922580638159719176
U64 = st.integers(0, (1 << 64) - 1)
I31 = st.integers(0, (1 << 31) - 1)
TEXT = st.text(max_size=12)


def typed(raw: RawMessage, room_id: int = ROOM) -> bytes:
    return orjson.dumps(render(decode(raw, room_id=room_id)))


def check(raw: RawMessage, room_id: int = ROOM) -> None:
    got = render_direct(raw, room_id=room_id)
    assert got is not None, raw.method
    assert got.json == typed(raw, room_id)
    event = decode(raw, room_id=room_id)
    assert (got.method, got.msg_id, got.room_id, got.created_at, got.raw) == (
        event.method,
        event.msg_id,
        event.room_id,
        event.created_at,
        event.raw,
    )


def test_captures_render_the_same_bytes() -> None:
    direct = 0
    for name in ("imfetch-2021-09", "imfetch-2021-12"):
        data = bytes.fromhex((FIXTURES / f"{name}.hex").read_text().strip())
        for raw in parse_response(data).messages:
            if raw.method in DIRECT:
                check(raw)
                direct += 1
            else:
                assert render_direct(raw, room_id=ROOM) is None
    assert direct >= 10


users = st.builds(
    lambda uid, short, nick, display, sec, level, club, club_name, avatars, grade: _user(
        uid, short, nick, display, sec, level, club, club_name, avatars, grade
    ),
    U64,
    U64,
    TEXT,
    TEXT,
    TEXT,
    I31,
    I31,
    TEXT,
    st.lists(TEXT, max_size=3),
    I31,
) | st.just(pb.User())


def _user(*f: Any) -> pb.User:
    uid, short, nick, display, sec, level, club, club_name, avatars, grade = f
    u = pb.User(
        id=uid, short_id=short, nickname=nick, display_id=display, sec_uid=sec, gender=level
    )
    u.fans_club.data.level, u.fans_club.data.club_name = club, club_name
    u.avatar_thumb.url_list.extend(avatars)
    u.pay_grade.level = grade
    return u


def _common(method: str, msg_id: int, room: int, created: int) -> pb.Common:
    return pb.Common(method=method, msg_id=msg_id, room_id=room, create_time=created)


@settings(max_examples=60, deadline=None)
@given(
    method=st.sampled_from(sorted(DIRECT)),
    user=users,
    ints=st.lists(U64, min_size=4, max_size=4),
    text=TEXT,
    raw_msg_id=st.sampled_from([0, 7041032912153662503, (1 << 64) - 1]),
    wire_room=st.sampled_from([0, ROOM]),
    ranks=st.lists(st.tuples(U64, U64, TEXT), max_size=3),
)
def test_random_messages_render_the_same_bytes(
    method: str,
    user: pb.User,
    ints: list[int],
    text: str,
    raw_msg_id: int,
    wire_room: int,
    ranks: list[tuple[int, int, str]],
) -> None:
    a, b, c, d = ints
    common = _common(method, a, wire_room, b)
    m: Any = DIRECT[method][0](common=common)
    for name, value in (("user", user),):
        if name in m.DESCRIPTOR.fields_by_name:
            getattr(m, name).CopyFrom(value)
    fields = m.DESCRIPTOR.fields_by_name
    for name in ("content", "default_content", "display_long", "total_user_str"):
        if name in fields:
            setattr(m, name, text)
    small = c % (1 << 31)  # fits every integer field kind
    for name in ("count", "total", "member_count", "action"):
        if name in fields:
            wide = fields[name].cpp_type == 4  # uint64
            setattr(m, name, d if wide else small % 5 if name == "action" else small)
    if method == "WebcastRoomUserSeqMessage":
        for rank, score, exact in ranks:
            m.ranks.add(rank=rank, score=score, exactly_score=exact, user=user)
    check(RawMessage(method, raw_msg_id, m.SerializeToString()))


def test_everything_else_takes_the_typed_path() -> None:
    gift = pb.GiftMessage(common=_common("WebcastGiftMessage", 5, ROOM, 1), gift_id=463)
    control = pb.ControlMessage(common=_common("WebcastControlMessage", 6, ROOM, 1), action=3)
    assert render_direct(RawMessage("WebcastGiftMessage", 5, gift.SerializeToString())) is None
    assert (
        render_direct(RawMessage("WebcastControlMessage", 6, control.SerializeToString())) is None
    )
    assert render_direct(RawMessage("WebcastSomethingNew", 7, b"\x08\x01")) is None
    assert render_direct(RawMessage("WebcastChatMessage", 8, b"\xff\xff\xff")) is None  # corrupt


async def test_collector_direct_option_yields_the_same_bytes() -> None:
    """``CollectorOptions(direct=True)`` (the service): common methods come pre-rendered, gifts
    and the rest as typed events; library users (the default) get typed events only."""
    import asyncio
    from dataclasses import replace

    from dylive.decode import Event, GiftEvent
    from dylive.decode.direct import Rendered
    from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
    from dylive.source.collector import CollectorOptions, Room

    async def collect(options: CollectorOptions, sim: SimServer) -> list[object]:
        items: list[object] = []
        async with Room(DEFAULT_WEB_RID, upstream=sim.base_url, options=options) as room:
            async with asyncio.timeout(60):
                async for item in room:
                    items.append(item)
                    kinds = {type(x) for x in items}
                    enough = len(items) >= 60 and GiftEvent in kinds
                    if enough and (not options.direct or Rendered in kinds):
                        return items
        return items

    async with SimServer(SimConfig(seed=5, rate=80.0)) as sim:
        base = CollectorOptions(signing="off", transport="push")
        direct = await collect(replace(base, direct=True), sim)
        typed = await collect(base, sim)
        logged = {e["msg_id"] for e in sim.log(DEFAULT_WEB_RID)}
    assert any(isinstance(x, Rendered) for x in direct)
    assert any(isinstance(x, GiftEvent) for x in direct)  # the ledger needs typed gifts
    assert all(isinstance(x, Event) for x in typed if type(x).__name__ != "GapEvent")
    for item in direct:
        if isinstance(item, Rendered):
            assert item.msg_id in logged
            assert item.json == typed_bytes(item)


def typed_bytes(item: object) -> bytes:
    from dylive.decode.direct import Rendered

    assert isinstance(item, Rendered)
    return typed(RawMessage(item.method, item.msg_id, item.raw), item.room_id)


def test_rendered_bytes_are_right_sized() -> None:
    """The stored bytes do not keep orjson's 4 KiB write buffer: every message waiting to be
    stored (up to the global ingestion bound) and every row of the tail cache holds them."""
    import tracemalloc

    raws = [
        raw
        for name in ("imfetch-2021-09", "imfetch-2021-12")
        for raw in parse_response(bytes.fromhex((FIXTURES / f"{name}.hex").read_text())).messages
        if raw.method in DIRECT
    ]
    assert raws
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [render_direct(raw, room_id=ROOM) for raw in raws for _ in range(50)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    size = sum(len(r.json) for r in kept if r is not None)
    assert held < 2 * size + 200 * len(kept)  # 4 KiB each (~10x) when the buffer is kept
