"""The running totals of one broadcast, folded from stored messages in seq order (pure).

A :class:`SessionTally` sees each stored message once (the caller feeds rows after its
checkpointed seq) and keeps everything a report needs: counts per method, gift value through
the :class:`~dylive.decode.GiftLedger` (each combo counted once, whatever the order), gifters,
chatters, likes, follows, shares, fans-club joins, viewer figures, per-minute buckets and the
in-stream ranking scores for reconciliation. ``to_state`` / ``from_state`` make it a checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from dylive.decode import (
    ChatEvent,
    ControlEvent,
    Event,
    FansclubEvent,
    GiftEvent,
    GiftLedger,
    LikeEvent,
    RankEntry,
    RoomRankEvent,
    RoomUserSeqEvent,
    SocialEvent,
)
from dylive.decode.events import SOCIAL_FOLLOW, SOCIAL_SHARE

#: FansclubMessage.action 2: a viewer joined the fans club.
FANSCLUB_JOIN = 2
MINUTE_MS = 60_000

# per-minute bucket fields
VIEWERS, CHAT, LIKES, DIAMONDS, MESSAGES = range(5)


@dataclass
class SessionTally:
    """Totals of one session; ``add(seq, event, prices)`` folds one stored message."""

    last_seq: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    gifts: int = 0
    diamonds: int = 0
    by_gift: dict[int, list[Any]] = field(default_factory=dict)  # id -> [name, count, diamonds]
    gifters: dict[int, list[Any]] = field(default_factory=dict)  # uid -> [nick, dia, gifts, pay]
    chatters: set[int] = field(default_factory=set)
    likes: int = 0
    follows: int = 0
    shares: int = 0
    joins: int = 0
    viewers_peak: int = 0
    viewers_sum: int = 0
    viewers_n: int = 0
    cumulative: int = 0
    minutes: dict[int, list[int]] = field(default_factory=dict)
    first_at: int = 0
    last_at: int = 0
    max_silence: int = 0
    ended_at: int = 0
    ranks: dict[int, list[Any]] = field(default_factory=dict)  # uid -> [nick, douyin, ours]
    ledger: GiftLedger = field(default_factory=GiftLedger)

    # -- folding ------------------------------------------------------------------------------
    def add(self, seq: int, event: Event, prices: Mapping[int, int]) -> None:
        """Fold one stored message (``prices``: catalogue diamonds per gift id, the fallback
        when the message carries no ``diamond_count``)."""
        self.last_seq = max(self.last_seq, seq)
        self.counts[event.method] = self.counts.get(event.method, 0) + 1
        at = self._clock(event.created_at)
        bucket = self.minutes.setdefault(at // MINUTE_MS, [-1, 0, 0, 0, 0])
        bucket[MESSAGES] += 1
        if isinstance(event, GiftEvent):
            bucket[DIAMONDS] += self._gift(event, prices)
        elif isinstance(event, ChatEvent):
            bucket[CHAT] += 1
            if event.user.uid:
                self.chatters.add(event.user.uid)
        elif isinstance(event, LikeEvent):
            bucket[LIKES] += event.count
            self.likes += event.count
        elif isinstance(event, RoomUserSeqEvent):
            bucket[VIEWERS] = max(bucket[VIEWERS], event.total)
            self._viewers(event)
        elif isinstance(event, RoomRankEvent):
            self._ranks(event.ranks)
        else:
            self._other(event, at)

    def _clock(self, created_at: int) -> int:
        """The message's time (ms), the last known one when the wire has none; tracks silence."""
        at = created_at or self.last_at
        if at and self.last_at and at > self.last_at:
            self.max_silence = max(self.max_silence, at - self.last_at)
        if at and not self.first_at:
            self.first_at = at
        self.last_at = max(self.last_at, at)
        return at

    def _gift(self, event: GiftEvent, prices: Mapping[int, int]) -> int:
        added = self.ledger.delta(event)
        if added <= 0:
            return 0
        unit = event.diamond_count or prices.get(event.gift_id, 0)
        value = added * unit
        self.gifts += added
        self.diamonds += value
        entry = self.by_gift.setdefault(event.gift_id, [event.gift_name, 0, 0])
        entry[0] = entry[0] or event.gift_name
        entry[1] += added
        entry[2] += value
        user = event.user
        giver = self.gifters.setdefault(user.uid, [user.nickname, 0, 0, 0])
        giver[0] = user.nickname or giver[0]
        giver[1] += value
        giver[2] += added
        giver[3] = max(giver[3], user.pay_grade_level)
        return value

    def _viewers(self, event: RoomUserSeqEvent) -> None:
        self.viewers_peak = max(self.viewers_peak, event.total)
        self.viewers_sum += event.total
        self.viewers_n += 1
        self.cumulative = max(self.cumulative, event.total_user)
        self._ranks(event.ranks)

    def _ranks(self, ranks: Iterable[RankEntry]) -> None:
        """Douyin's score per ranked user beside ours at the same point of the stream."""
        for entry in ranks:
            uid = entry.user.uid
            if not uid:
                continue
            score = entry.score or _digits(entry.score_str)
            ours = self.gifters.get(uid, [None, 0])[1]
            self.ranks[uid] = [entry.user.nickname or self.ranks.get(uid, [""])[0], score, ours]

    def _other(self, event: Event, at: int) -> None:
        if isinstance(event, SocialEvent):
            if event.action == SOCIAL_FOLLOW:
                self.follows += 1
            elif event.action == SOCIAL_SHARE:
                self.shares += 1
        elif isinstance(event, FansclubEvent) and event.action == FANSCLUB_JOIN:
            self.joins += 1
        elif isinstance(event, ControlEvent) and event.ended:
            self.ended_at = at

    # -- checkpoint ---------------------------------------------------------------------------
    def to_state(self) -> bytes:
        data = {name: getattr(self, name) for name in _PLAIN}
        data["by_gift"] = [[k, *v] for k, v in self.by_gift.items()]
        data["gifters"] = [[k, *v] for k, v in self.gifters.items()]
        data["ranks"] = [[k, *v] for k, v in self.ranks.items()]
        data["minutes"] = [[k, *v] for k, v in self.minutes.items()]
        data["chatters"] = sorted(self.chatters)
        data["streaks"] = self.ledger.streaks()
        return orjson.dumps(data)

    @classmethod
    def from_state(cls, state: bytes) -> SessionTally:
        tally = cls()
        if not state:
            return tally
        data = orjson.loads(state)
        for name in _PLAIN:
            setattr(tally, name, data[name])
        tally.by_gift = {row[0]: row[1:] for row in data["by_gift"]}
        tally.gifters = {row[0]: row[1:] for row in data["gifters"]}
        tally.ranks = {row[0]: row[1:] for row in data["ranks"]}
        tally.minutes = {row[0]: row[1:] for row in data["minutes"]}
        tally.chatters = set(data["chatters"])
        tally.ledger.restore([(u, g, k, n) for u, g, k, n in data["streaks"]])
        return tally


_PLAIN = (
    "last_seq",
    "counts",
    "gifts",
    "diamonds",
    "likes",
    "follows",
    "shares",
    "joins",
    "viewers_peak",
    "viewers_sum",
    "viewers_n",
    "cumulative",
    "first_at",
    "last_at",
    "max_silence",
    "ended_at",
)


def _digits(text: str) -> int:
    digits = "".join(ch for ch in text if ch.isdigit())
    return int(digits) if digits else 0
