"""Room specs, the default scenario, and the per-broadcast message script.

A :class:`Script` turns a seeded RNG into *drafts* (method + protobuf message without its
Common ids); the room stamps msg_id, room_id and create_time when it logs them. Given the same
seed, rate and tick, the sequence of drafts is the same on every run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from . import builders as b
from .catalog import CHAT_LINES, EMOJIS, GIFTS, UNKNOWN_METHODS, Gift
from .users import SimUser, user_pool

TEENIE_INTRO = "这里是TeenieWeenie官方直播间,欢迎熊粉们常来玩,主播在这里等你们哟~"


@dataclass(slots=True)
class RoomSpec:
    """One room of the scenario (a web_rid and its anchor)."""

    web_rid: str
    anchor_id: int
    nickname: str
    display_id: str
    sec_uid: str
    room_id: int = 0  # first broadcast; 0 = generated
    live: bool = True
    rate: float | None = None  # messages/s; None = SimConfig.rate
    seed: int | None = None  # None = derived from SimConfig.seed and web_rid
    title: str = ""
    intro: str = ""
    club_name: str = ""


def default_rooms() -> list[RoomSpec]:
    """The contract's TeenieWeenie room, three more live rooms and one room that is not live."""
    return [
        RoomSpec(
            web_rid="615189692839",
            room_id=6922580638159719176,
            anchor_id=8401565526815,
            nickname="TeenieWeenie女装官方旗舰店",
            display_id="teenieweenie_",
            sec_uid="MS4wLjABAAAAGYEe4uJArJ3uYEmO7dNXrbRBVmuRWG7a1PGtI7E9W9Q",
            title="TeenieWeenie女装 新品上市",
            intro=TEENIE_INTRO,
            club_name="熊粉团",
        ),
        RoomSpec(
            web_rid="80017709309",
            room_id=7439018246715328306,
            anchor_id=93124710551,
            nickname="小甜甜爱唱歌",
            display_id="xtt520",
            sec_uid="MS4wLjABAAAAq3Zb9mK2xW8vYtR1nP0sLcDfGhJkLmNoPqRsTuVwXyZ",
            title="深夜点歌台",
            intro="每晚十点不见不散,点歌请送小心心~",
            club_name="甜粉",
        ),
        RoomSpec(
            web_rid="646454278948",
            room_id=7439021897614200620,
            anchor_id=2105533891043,
            nickname="老王户外钓鱼",
            display_id="laowang_fish",
            sec_uid="MS4wLjABAAAAx8Yh3Jk9LmQ2wE4rT6yU1iO5pA7sD0fG9hJ2kL4zX1c",
            title="野钓大鲤鱼",
            intro="户外钓鱼直播,关注主播学钓鱼技巧",
            club_name="钓友会",
        ),
        RoomSpec(
            web_rid="208823316033",
            room_id=7439033310986744591,
            anchor_id=71236650012,
            nickname="阿May的美妆间",
            display_id="amay_beauty",
            sec_uid="MS4wLjABAAAAm4Nb7Vc2Xz8Lk3Jh6Gf1Ds9Aq5Wp0Oi4Uy7Tr2Ee3Rw8",
            title="秋冬底妆教程",
            intro="美妆教程+好物分享,新人关注领券",
            club_name="May粉",
        ),
        RoomSpec(
            web_rid="11052815917",
            room_id=7438877120345712394,
            anchor_id=58890102234,
            nickname="休息中的主播",
            display_id="offline_anchor",
            sec_uid="MS4wLjABAAAAz1Xc2Vb3Nm4Lk5Jh6Gf7Ds8Aq9Wp0Oi1Uy2Tr3Ee4Rw5",
            title="今天不播",
            intro="主播休息中",
            club_name="老粉",
            live=False,
        ),
    ]


def anchor_of(spec: RoomSpec) -> SimUser:
    return SimUser(
        id=spec.anchor_id,
        short_id=spec.anchor_id % 10**9,
        nickname=spec.nickname,
        display_id=spec.display_id,
        sec_uid=spec.sec_uid,
        avatar_uri=f"anchor{spec.anchor_id:x}",
        pay_level=30,
        follower_count=1_490_954,
        following_count=52,
    )


@dataclass(slots=True)
class Streak:
    user: SimUser
    gift: Gift
    group_id: int
    target: int
    group_count: int
    count: int = 0


@dataclass(slots=True)
class RoomCounters:
    """Room totals that survive the per-tick script (per broadcast)."""

    online: int = 120
    total_user: int = 5000
    likes: int = 0
    followers: int = 1_490_954
    shares: int = 0
    fans: int = 800
    fan_tickets: int = 0
    scores: dict[int, int] = field(default_factory=dict)  # uid -> diamonds in this broadcast
    users: dict[int, SimUser] = field(default_factory=dict)


#: Relative weights of the per-slot kinds.
KINDS: tuple[tuple[str, float], ...] = (
    ("chat", 34.0),
    ("member", 20.0),
    ("like", 18.0),
    ("gift", 12.0),
    ("follow", 4.0),
    ("share", 3.0),
    ("emoji", 2.0),
    ("fansclub", 1.5),
)
PERIODS = {"seq": 5.0, "stats": 5.0, "rank": 20.0, "intro": 60.0, "fanticket": 10.0}


def with_fact(draft: b.Draft, *fact: Any) -> b.Draft:
    """``draft`` carrying what it means for the totals (``Draft.fact``)."""
    draft.fact = fact
    return draft


class Script:
    """Per-room message generator: deterministic given the seed (content, not ids or times)."""

    def __init__(self, spec: RoomSpec, seed: int, *, pool_size: int = 300) -> None:
        self.spec = spec
        self.anchor = anchor_of(spec)
        club = spec.club_name or "粉丝团"
        self.pool = user_pool(seed, pool_size, club_name=club, anchor_id=spec.anchor_id)
        self.rng = random.Random(seed ^ 0x5EED)
        self.c = RoomCounters(online=self.rng.randint(80, 3000))
        self.c.users = {u.id: u for u in self.pool}
        self.streaks: list[Streak] = []
        self.elapsed = 0.0
        self._due = dict.fromkeys(PERIODS, 0.0)
        self._kinds = [k for k, _ in KINDS]
        # cumulative weights, summed once: Random.choices draws exactly as with the weights
        self._weights = list(accumulate(w for _, w in KINDS))
        self._gift_weights = list(accumulate(g.weight for g in GIFTS))
        self._groups: set[tuple[int, int, int]] = set()
        self.warm = False  # set by the simulator (SimConfig.warm_ranking)

    # ------------------------------------------------------------ lifecycle

    def new_broadcast(self) -> None:
        self.c.scores.clear()
        self.streaks.clear()
        self.elapsed = 0.0
        self._due = dict.fromkeys(PERIODS, 0.0)
        if self.warm:
            self._warm_ranking()

    def _warm_ranking(self) -> None:
        """Gifts given before anyone joined (the room has been live a while): the audience
        ranking and the fan-ticket total are not empty at the start; no messages are logged."""
        for user in self.rng.sample(self.pool, k=min(len(self.pool), self.rng.randint(5, 12))):
            gift = self.rng.choices(GIFTS, cum_weights=self._gift_weights)[0]
            self._score(user, gift.diamond_count * self.rng.randint(1, 20))

    def opening(self) -> list[b.Draft]:
        return [b.room_notice(), self.intro()]

    def closing(self) -> list[b.Draft]:
        return [b.control(3)]

    # ------------------------------------------------------------ clock

    def tick(self, now_ms: int, dt: float, rate: float, unknown: float = 0.0) -> list[b.Draft]:
        """Drafts for ``dt`` seconds at ``rate`` messages/s, plus the periodic room messages.

        A rate of 0 is a silent room (no periodic messages either): only injects emit.
        """
        out: list[b.Draft] = []
        if rate <= 0:
            return out
        for _ in range(self._poisson(rate * dt)):
            if unknown and self.rng.random() < unknown:
                out.append(self.unknown())
            else:
                out.extend(self._slot(now_ms))
        self.elapsed += dt
        for name, period in PERIODS.items():
            if self.elapsed >= self._due[name]:
                self._due[name] = self.elapsed + period
                out.extend(self.periodic(name))
        return out

    def _poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        if lam > 30:
            return max(0, round(self.rng.gauss(lam, math.sqrt(lam))))
        limit, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def _slot(self, now_ms: int) -> list[b.Draft]:
        kind = self.rng.choices(self._kinds, cum_weights=self._weights)[0]
        user = self.rng.choice(self.pool)
        if kind == "gift":
            return [self._gift_step(user, now_ms)]
        if kind == "chat":
            return [self.chat(user, self.rng.choice(CHAT_LINES))]
        if kind == "member":
            return [self.member(user)]
        if kind == "like":
            return [self.like(user, self.rng.randint(1, 15))]
        if kind == "follow":
            return [self.follow(user)]
        if kind == "share":
            return [self.share(user)]
        if kind == "emoji":
            return [self.emoji(user)]
        return [self.fansclub(user, self.rng.choice((1, 2)))]

    def periodic(self, name: str) -> list[b.Draft]:
        if name == "seq":
            self.c.online = max(20, self.c.online + self.rng.randint(-30, 40))
            self.c.total_user += self.rng.randint(0, 60)
            return [with_fact(b.room_user_seq(self.c, self.top(3)), "viewers", self.c.online)]
        if name == "stats":
            return [b.room_stats(self.c.online)]
        if name == "rank":
            return [b.room_rank(self.top(3), self.c.scores)]
        if name == "intro":
            return [self.intro()]
        return [b.fan_ticket(self.c.fan_tickets)]

    # ------------------------------------------------------------ builders (also used by inject)

    def chat(self, user: SimUser, content: str) -> b.Draft:
        return with_fact(b.chat(user, content), "chat", user.id)

    def member(self, user: SimUser) -> b.Draft:
        self.c.online += 1
        self.c.total_user += 1
        return b.member(user, self.c.online)

    def like(self, user: SimUser, count: int) -> b.Draft:
        self.c.likes += count
        return with_fact(b.like(user, count, self.c.likes), "like", count)

    def follow(self, user: SimUser) -> b.Draft:
        self.c.followers += 1
        return with_fact(b.social(user, 1, follow_count=self.c.followers), "follow")

    def share(self, user: SimUser) -> b.Draft:
        self.c.shares += 1
        return with_fact(b.social(user, 3, share_total=self.c.shares), "share")

    def emoji(self, user: SimUser) -> b.Draft:
        emoji_id, text = self.rng.choice(EMOJIS)
        return b.emoji_chat(user, emoji_id, text)

    def fansclub(self, user: SimUser, action: int) -> b.Draft:
        club = self.spec.club_name or "粉丝团"
        if action == 2:
            self.c.fans += 1
            text = f"恭喜 {user.nickname} 成为{club}第{self.c.fans}名成员"
        else:
            text = f"恭喜 {user.nickname} 的{club}等级升级到{max(2, user.fans_level + 1)}级"
        draft = b.fansclub(user, action, text)
        return with_fact(draft, "join") if action == 2 else draft

    def intro(self) -> b.Draft:
        return b.room_intro(self.anchor, self.spec.intro or self.spec.title)

    def unknown(self) -> b.Draft:
        method = self.rng.choice(UNKNOWN_METHODS)
        payload = bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(8, 64)))
        return b.Draft(method, None, payload=payload)

    def top(self, n: int) -> list[tuple[SimUser, int]]:
        best = sorted(self.c.scores.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        return [(self.c.users[uid], score) for uid, score in best if uid in self.c.users]

    # ------------------------------------------------------------ gifts

    def _gift_step(self, user: SimUser, now_ms: int) -> b.Draft:
        if self.streaks and (len(self.streaks) >= 3 or self.rng.random() < 0.7):
            streak = self.rng.choice(self.streaks)
            return self.streak_step(streak, self.rng.randint(1, 3))
        gift = self.rng.choices(GIFTS, cum_weights=self._gift_weights)[0]
        if not gift.combo:
            return self.single_gift(user, gift, now_ms)
        target = self.rng.choice((1, 1, 2, 3, 5, 8, 10, 20, 66))
        streak = self.open_streak(user, gift, target, 1, now_ms)
        return self.streak_step(streak, 1)

    def open_streak(
        self, user: SimUser, gift: Gift, target: int, group_count: int, now_ms: int
    ) -> Streak:
        group_id = self._group_id(user, gift, now_ms)
        streak = Streak(user, gift, group_id, max(1, target), max(1, group_count))
        self.streaks.append(streak)
        return streak

    def _group_id(self, user: SimUser, gift: Gift, now_ms: int) -> int:
        """A group_id unique per (sender, gift): each send action is its own group, as on
        Douyin (a repeated group would read as the same streak)."""
        group_id = now_ms // 1000
        while (user.id, gift.id, group_id) in self._groups:
            group_id += 1
        self._groups.add((user.id, gift.id, group_id))
        return group_id

    def streak_step(self, s: Streak, inc: int) -> b.Draft:
        """The next message of a streak; the last one (count == target) has repeat_end 1."""
        new = min(s.target, s.count + max(1, inc))
        added = s.group_count * (new - s.count)
        self._score(s.user, s.gift.diamond_count * added)
        s.count = new
        end = new >= s.target
        if end and s in self.streaks:
            self.streaks.remove(s)
        draft = b.gift(
            s.user, self.anchor, s.gift, repeat=new, group_count=s.group_count,
            group_id=s.group_id, end=end, room_tickets=self.c.fan_tickets,
        )  # fmt: skip
        return with_fact(draft, "gift", s.user.id, added, added * s.gift.diamond_count)

    def single_gift(self, user: SimUser, gift: Gift, now_ms: int, group_count: int = 1) -> b.Draft:
        self._score(user, gift.diamond_count * group_count)
        group_id = self._group_id(user, gift, now_ms)
        draft = b.gift(
            user, self.anchor, gift, repeat=1, group_count=group_count,
            group_id=group_id, end=True, room_tickets=self.c.fan_tickets,
        )  # fmt: skip
        return with_fact(draft, "gift", user.id, group_count, group_count * gift.diamond_count)

    def gift_messages(
        self, user: SimUser, gift: Gift, count: int, group_count: int, now_ms: int
    ) -> list[b.Draft]:
        """A whole scripted streak (inject): ``count`` messages, repeat_count 1..count."""
        if not gift.combo:
            return [self.single_gift(user, gift, now_ms, group_count)]
        streak = self.open_streak(user, gift, count, group_count, now_ms)
        return [self.streak_step(streak, 1) for _ in range(streak.target)]

    def _score(self, user: SimUser, diamonds: int) -> None:
        self.c.users.setdefault(user.id, user)
        self.c.scores[user.id] = self.c.scores.get(user.id, 0) + diamonds
        self.c.fan_tickets += diamonds
