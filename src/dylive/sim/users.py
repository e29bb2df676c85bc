"""Simulated Douyin users: the anchor and a per-room viewer pool, as protobuf and as JSON."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field

from dylive.decode import douyin_json
from dylive.proto import webcast_pb2 as pb

from .catalog import NICK_PREFIXES

SEC_UID_PREFIX = "MS4wLjABAAAA"
_B64URL = string.ascii_letters + string.digits + "-_"
_ALNUM = string.ascii_lowercase + string.digits
AVATAR_HOSTS = ("p3-dy-ipv6.byteimg.com", "p6-dy-ipv6.byteimg.com", "p26-dy.byteimg.com")


@dataclass(slots=True)
class SimUser:
    """One Douyin account as the simulator shows it."""

    id: int
    nickname: str
    display_id: str  # 抖音号 (User.display_id, the contract's unique_id)
    sec_uid: str
    short_id: int = 0
    avatar_uri: str = ""
    pay_level: int = 0
    fans_level: int = 0
    club_name: str = ""
    anchor_id: int = 0
    follower_count: int = 0
    following_count: int = 0
    gender: int = 0
    city: str = ""
    _pb: pb.User | None = field(default=None, repr=False)

    def avatar_urls(self) -> list[str]:
        return [
            f"https://{host}/aweme/100x100/{self.avatar_uri}.jpeg?from=4010531038"
            for host in AVATAR_HOSTS
        ]

    def to_pb(self) -> pb.User:
        """The protobuf User (cached; callers CopyFrom it)."""
        if self._pb is None:
            self._pb = build_pb_user(self)
        return self._pb


def build_pb_user(u: SimUser) -> pb.User:
    user = pb.User(
        id=u.id,
        short_id=u.short_id,
        nickname=u.nickname,
        gender=u.gender,
        display_id=u.display_id,
        sec_uid=u.sec_uid,
        id_str=str(u.id),
        city=u.city,
    )
    user.avatar_thumb.url_list.extend(u.avatar_urls())
    user.avatar_thumb.uri = f"100x100/{u.avatar_uri}"
    user.follow_info.following_count = u.following_count
    user.follow_info.follower_count = u.follower_count
    user.follow_info.follower_count_str = str(u.follower_count)
    user.pay_grade.level = u.pay_level
    user.pay_grade.grade_describe = grade_describe(u.pay_level)
    if u.pay_level:
        badge = user.pay_grade.grade_icon_list.add(
            icon_diamond=u.pay_level * 1000, level=u.pay_level, level_str=str(u.pay_level)
        )
        badge.icon.uri = f"webcast/aweme_pay_grade_2x_{u.pay_level}.png"
        badge.icon.url_list.append(
            f"https://p3-webcast.douyinpic.com/img/{badge.icon.uri}~tplv-obj.image"
        )
    if u.club_name:
        user.fans_club.data.club_name = u.club_name
        user.fans_club.data.level = u.fans_level
        user.fans_club.data.anchor_id = u.anchor_id
        user.fans_club.data.user_fans_club_status = 1
    return user


def grade_describe(level: int) -> str:
    return f"距离{level + 1}级还差{(level + 1) * 1000 - 2}抖币"


def grade_bounds(level: int) -> tuple[int, int]:
    return level * level * 100, (level + 1) * (level + 1) * 100 - 1


def user_json(u: SimUser) -> dict[str, object]:
    """The full Douyin user object of ranklist/audience (api-contract.md §2 field names)."""
    lo, hi = grade_bounds(u.pay_level)
    return douyin_json.user_json(
        uid=u.id,
        nickname=u.nickname,
        display_id=u.display_id,
        sec_uid=u.sec_uid,
        short_id=u.short_id,
        gender=u.gender,
        avatar_thumb=douyin_json.image_json(u.avatar_urls(), f"100x100/{u.avatar_uri}"),
        pay_grade={
            "level": u.pay_level,
            "grade_describe": grade_describe(u.pay_level),
            "this_grade_min_diamond": lo,
            "this_grade_max_diamond": hi,
        },
        fans_club_data={"level": u.fans_level, "club_name": u.club_name, "anchor_id": u.anchor_id},
        follow_info={
            "follow_status": 0,
            "follower_count": u.follower_count,
            "following_count": u.following_count,
            "push_status": 0,
        },
        city=u.city,
    ) | {"top_vip_no": 0}


def random_sec_uid(rng: random.Random) -> str:
    return SEC_UID_PREFIX + "".join(rng.choice(_B64URL) for _ in range(43))


def random_user(rng: random.Random, *, club_name: str, anchor_id: int) -> SimUser:
    """A plausible viewer: masked or real nickname, digit or letter 抖音号, skewed levels."""
    uid = rng.randrange(10**10, 4 * 10**15)
    if rng.random() < 0.25:
        nickname = f"用户{rng.randrange(10**12, 10**13)}"
    else:
        nickname = rng.choice(NICK_PREFIXES) + (
            "" if rng.random() < 0.5 else str(rng.randint(1, 999))
        )
    if rng.random() < 0.5:
        display_id = str(rng.randrange(10**8, 10**10))
    else:
        display_id = "dy" + "".join(rng.choice(_ALNUM) for _ in range(10))
    in_club = rng.random() < 0.3
    return SimUser(
        id=uid,
        short_id=rng.randrange(10**8, 10**10),
        nickname=nickname,
        display_id=display_id,
        sec_uid=random_sec_uid(rng),
        avatar_uri="".join(rng.choice("0123456789abcdef") for _ in range(25)),
        pay_level=min(60, int(rng.expovariate(0.15))),
        fans_level=rng.randint(1, 20) if in_club else 0,
        club_name=club_name if in_club else "",
        anchor_id=anchor_id if in_club else 0,
        follower_count=int(rng.expovariate(1 / 300)),
        following_count=rng.randint(0, 2000),
        gender=rng.randint(0, 2),
    )


def user_pool(seed: int, size: int, *, club_name: str, anchor_id: int) -> list[SimUser]:
    rng = random.Random(seed)
    return [random_user(rng, club_name=club_name, anchor_id=anchor_id) for _ in range(size)]
