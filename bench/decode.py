"""Decode benchmark: end to end (frame → the stored JSON bytes) vs the raw protobuf parse.

"End to end" is what the API service does with a push frame: session (frame, gunzip, Response)
→ de-duplicated raw messages → the JSON bytes it stores (``decode.direct`` for the common
methods, typed event → ``render`` → orjson for the rest). "Library" is the typed path a
``dylive.Room`` user gets (every message a typed event, then ``render`` and orjson). All run in
this one process on the same realistic frames (20 messages each; users with avatars, pay grade
and fans club levels), in alternating rounds so that machine noise hits each alike. Prints
messages per second of this process's CPU time (one core; on a loaded machine wall-clock time
also counts the waits for a CPU) and ratios to the raw parse (targets: ≥ 100,000 msg/s end to
end, ratio ≥ 0.35).
"""

from __future__ import annotations

import argparse
import gzip
import random
import time
from collections.abc import Callable

import orjson

from dylive.decode import decode, render
from dylive.decode.decoders import DECODERS
from dylive.decode.direct import render_direct
from dylive.proto import webcast_pb2 as pb
from dylive.wire.frames import RawMessage, encode_frame, encode_response
from dylive.wire.session import PushSession

ROOM = 6922580638159719176
CHAT = [
    "想要长款连衣裙",
    "23号大衣还有吗可以回复一下吗",
    "主播好漂亮",
    "来了来了",
    "多少钱",
    "已拍",
]


def make_user(rng: random.Random) -> pb.User:
    uid = rng.randrange(10**10, 10**15)
    u = pb.User(
        id=uid,
        short_id=rng.randrange(10**8, 10**10),
        nickname=f"用户{uid % 10**13}",
        display_id=str(rng.randrange(10**8, 10**10)),
        sec_uid="MS4wLjABAAAA" + "".join(rng.choices("abcdefghijkLMNOPQ0123456789_-", k=43)),
        gender=rng.choice([0, 1, 2]),
    )
    for host in ("p3", "p6", "p26"):
        u.avatar_thumb.url_list.append(
            f"https://{host}.douyinpic.com/aweme/100x100/aweme-avatar/{uid:x}.jpeg?from=4010531038"
        )
    u.avatar_thumb.uri = f"100x100/aweme-avatar/{uid:x}"
    u.pay_grade.level = rng.randrange(0, 40)
    u.pay_grade.name = "消费等级"
    icon = u.pay_grade.grade_icon_list.add()
    icon.icon.url_list.append(
        "http://p6-webcast.douyinpic.com/img/webcast/user_grade_level_v5_12.png"
    )
    icon.level = u.pay_grade.level
    u.fans_club.data.club_name = "熊粉"
    u.fans_club.data.level = rng.randrange(0, 20)
    u.follow_info.follower_count = rng.randrange(0, 10**5)
    u.follow_info.following_count = rng.randrange(0, 10**3)
    return u


def make_message(rng: random.Random, msg_id: int) -> RawMessage:
    kind = rng.choices(
        ["chat", "member", "like", "gift", "social", "seq", "stats"], [40, 20, 15, 10, 5, 5, 5]
    )[0]
    common = pb.Common(msg_id=msg_id, room_id=ROOM, create_time=1611801897133 + msg_id % 1000)
    m: object
    if kind == "chat":
        common.method = "WebcastChatMessage"
        m = pb.ChatMessage(common=common, user=make_user(rng), content=rng.choice(CHAT))
    elif kind == "member":
        common.method = "WebcastMemberMessage"
        m = pb.MemberMessage(common=common, user=make_user(rng), member_count=rng.randrange(10**4))
    elif kind == "like":
        common.method = "WebcastLikeMessage"
        m = pb.LikeMessage(common=common, user=make_user(rng), count=15, total=rng.randrange(10**6))
    elif kind == "gift":
        common.method = "WebcastGiftMessage"
        user = make_user(rng)
        common.describe = f"{user.nickname}:送给主播 1个小心心"
        m = pb.GiftMessage(common=common, user=user, gift_id=463, repeat_count=1, group_count=1)
        m.gift.name, m.gift.id, m.gift.diamond_count, m.gift.combo = "小心心", 463, 1, True
    elif kind == "social":
        common.method = "WebcastSocialMessage"
        m = pb.SocialMessage(common=common, user=make_user(rng), action=1)
    elif kind == "seq":
        common.method = "WebcastRoomUserSeqMessage"
        m = pb.RoomUserSeqMessage(common=common, total=165, total_user=133339)
        for r in range(1, 4):
            m.ranks.add(rank=r, score=99 * r, user=make_user(rng))
    else:
        common.method = "WebcastRoomStatsMessage"
        m = pb.RoomStatsMessage(common=common, display_long="2252在线观众", display_value=2252)
    return RawMessage(common.method, msg_id, m.SerializeToString())  # type: ignore[attr-defined]


def make_frames(count: int, per_frame: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    frames = []
    msg_id = 7041032912153662503
    for _ in range(count):
        msgs = []
        for _ in range(per_frame):
            msg_id += rng.randrange(1, 10**6)
            msgs.append(make_message(rng, msg_id))
        body = encode_response(msgs, cursor="c", internal_ext="e" * 200, need_ack=True)
        frames.append(encode_frame(body, log_id=msg_id, headers={"im-cursor": "c"}))
    return frames


def raw_parse(frames: list[bytes]) -> int:
    """PushFrame + gunzip + Response + payload parse only: no Python objects of ours."""
    n = 0
    classes = {m: c for m, (c, _) in DECODERS.items()}
    for data in frames:
        f = pb.PushFrame()
        f.ParseFromString(data)
        r = pb.Response()
        r.ParseFromString(gzip.decompress(f.payload))
        for m in r.messages:
            p = classes[m.method]()
            p.ParseFromString(m.payload)
            n += 1
    return n


def end_to_end(frames: list[bytes]) -> int:
    """What the service does: session → the stored JSON bytes (direct, else typed)."""
    n = 0
    session = PushSession()
    dumps = orjson.dumps
    for data in frames:
        for raw in session.receive_frame(data):
            if render_direct(raw, room_id=ROOM) is None:
                dumps(render(decode(raw, room_id=ROOM)))
            n += 1
        session.data_to_send()
    return n


def library(frames: list[bytes]) -> int:
    """A library user's path: session → typed events → rendered dicts → JSON bytes."""
    n = 0
    session = PushSession()
    dumps = orjson.dumps
    for data in frames:
        for raw in session.receive_frame(data):
            dumps(render(decode(raw, room_id=ROOM)))
            n += 1
        session.data_to_send()
    return n


def measure(fn: Callable[[list[bytes]], int], frames: list[bytes]) -> tuple[int, float]:
    """(messages, CPU seconds of this process)."""
    t = time.process_time()
    n = fn(frames)
    return n, time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=500)
    ap.add_argument("--per-frame", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    frames = make_frames(args.frames, args.per_frame, args.seed)
    size = sum(map(len, frames)) / len(frames)
    print(f"{len(frames)} frames x {args.per_frame} messages, {size:.0f} bytes/frame gzipped")
    fns = (("raw", raw_parse), ("e2e", end_to_end), ("lib", library))
    for _, fn in fns:
        fn(frames[:20])  # warm up
    totals = {name: [0, 0.0] for name, _ in fns}
    for _ in range(args.rounds):
        for name, fn in fns:
            n, dt = measure(fn, frames)
            totals[name][0] += n
            totals[name][1] += dt
    raw, e2e, lib = (totals[k][0] / totals[k][1] for k in ("raw", "e2e", "lib"))
    print(f"raw parse (PushFrame+gunzip+Response+payload): {raw:,.0f} messages per CPU second")
    print(
        f"end to end (frame -> stored JSON bytes, the service): {e2e:,.0f} messages per CPU second"
    )
    print(f"library (frame -> typed events -> JSON bytes): {lib:,.0f} messages per CPU second")
    print(f"ratio end-to-end / raw: {e2e / raw:.2f}  (target >= 0.35; e2e target >= 100,000/s)")
    print(f"ratio library / raw: {lib / raw:.2f}")


if __name__ == "__main__":
    main()
