"""The audience gift ranking (音浪榜): upstream ranklist first, our own gift ledger as fallback.

``source`` (additive, beside ``data.data``) says who answered: ``"upstream"`` (Douyin's
``/webcast/ranklist/audience/`` passed through untouched) or ``"ledger"`` (computed here: per
sender, diamonds × the stored ``gift.delta`` of every stored gift of the broadcast (computed once
where the gift was ingested; a row stored without one goes through a GiftLedger of the ranking's
own), merged with the
scores of the in-stream RoomRankMessage / RoomUserSeqMessage rankings, whichever is higher).
The ledger ranking uses Douyin's field names and the contract example's user keys.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from dylive.decode import (
    GiftEvent,
    GiftLedger,
    RoomRankEvent,
    RoomUserSeqEvent,
    UserInfo,
    decode,
)
from dylive.decode.douyin_json import image_json, user_json
from dylive.decode.events import MASKED_UID, UserKey, key_order
from dylive.errors import DyliveError
from dylive.numbers import I64_MAX, ascii_uint
from dylive.source.room import RoomInfo
from dylive.store import EventLog
from dylive.wire.frames import RawMessage

log = logging.getLogger(__name__)

RankFetcher = Callable[[RoomInfo], Awaitable[dict[str, Any]]]

GIFT = "WebcastGiftMessage"
_METHODS = (GIFT, "WebcastRoomRankMessage", "WebcastRoomUserSeqMessage")
_GIFTS = frozenset({GIFT})
_PAGE = 1000
MAX_RANKS = 50


@dataclass
class _RoomTally:
    ledger: GiftLedger | None = None  # only for gifts stored without a delta
    # keyed by the stable user key (the uid, or a masked user's webcast_uid)
    diamonds: dict[UserKey, int] = field(default_factory=dict)
    in_stream: dict[UserKey, int] = field(default_factory=dict)
    users: dict[UserKey, UserInfo] = field(default_factory=dict)
    last_seq: int = 0

    def see_user(self, user: UserInfo) -> None:
        old = self.users.get(user.key)
        if old is None or (user.pay_grade_level, user.fans_club_level, bool(user.nickname)) >= (
            old.pay_grade_level,
            old.fans_club_level,
            bool(old.nickname),
        ):
            self.users[user.key] = user

    def add(
        self, msg_id: int, method: str, raw: bytes, room_id: int, delta: int | None = None
    ) -> None:
        """Fold one stored message; ``delta``: a gift's stored ``gift.delta`` (None: none)."""
        event = decode(RawMessage(method, msg_id, raw), room_id=room_id)
        if isinstance(event, GiftEvent) and event.user.key:
            if delta is None:
                if self.ledger is None:
                    self.ledger = GiftLedger()
                delta = self.ledger.delta(event)
            key = event.user.key
            self.diamonds[key] = self.diamonds.get(key, 0) + delta * event.diamond_count
            self.see_user(event.user)
        elif isinstance(event, RoomRankEvent | RoomUserSeqEvent):
            for entry in event.ranks:
                key = entry.user.key
                if not key:
                    continue
                score = entry.score or _int(entry.score_str)
                self.in_stream[key] = max(self.in_stream.get(key, 0), score)
                self.see_user(entry.user)

    def scores(self) -> list[tuple[UserKey, int]]:
        keys = set(self.diamonds) | set(self.in_stream)
        merged = [(u, max(self.diamonds.get(u, 0), self.in_stream.get(u, 0))) for u in keys]
        merged = [(u, s) for u, s in merged if s > 0]
        merged.sort(key=lambda us: (-us[1], key_order(us[0])))
        return merged[:MAX_RANKS]


def _int(text: str) -> int:
    """A score text's ASCII digits as an integer (0 if none), clamped to 2^63-1."""
    digits = "".join(ch for ch in text[:40] if "0" <= ch <= "9")
    return min(int(digits), I64_MAX) if digits else 0


def douyin_user(user: UserInfo, anchor_uid: int = 0) -> dict[str, Any]:
    """A Douyin ``user`` object (the contract example's keys and types) from a UserInfo."""
    avatar = user.avatar_url
    out = user_json(
        uid=user.uid,
        nickname=user.nickname,
        display_id=user.unique_id,
        sec_uid=user.sec_uid,
        short_id=user.short_id,
        gender=user.gender,
        avatar_thumb=image_json([avatar] if avatar else []),
        pay_grade={"level": user.pay_grade_level, "grade_describe": ""},
        fans_club_data={
            "level": user.fans_club_level,
            "club_name": user.fans_club_name,
            "anchor_id": anchor_uid if user.fans_club_level else 0,
        },
        follow_info={"follower_count": 0},
        authorization_info=0,
    )
    if user.webcast_uid:  # Douyin's own name for the per-room id of a masked user
        out["webcast_uid"] = user.webcast_uid
    return out


def _placeholder(key: UserKey) -> UserInfo:
    if isinstance(key, int):
        return UserInfo(uid=key)
    return UserInfo(uid=MASKED_UID, webcast_uid=key, masked=True)


def ledger_ranking(tally: _RoomTally, anchor_uid: int) -> dict[str, Any]:
    ranks: list[dict[str, Any]] = []
    previous = 0
    for position, (key, score) in enumerate(tally.scores(), start=1):
        gap = score if position == 1 else previous - score
        ranks.append(
            {
                "delta": 0,
                "first_gift": False,
                "gap_description": str(gap),
                "rank": position,
                "score": score,
                "exactly_score": score,
                "score_description": "",
                "is_hidden": False,
                "user": douyin_user(tally.users.get(key) or _placeholder(key), anchor_uid),
            }
        )
        previous = score
    return {
        "currency": "音浪",
        "has_more": False,
        "has_once_live": True,
        "music_wave": "音浪",
        "ranks": ranks,
        "total": len(ranks),
        "invisible_total": 0,
        "user_count_desc": "",
    }


class AudienceService:
    """``ranking(info) -> (data, source)``; ``fetcher`` is the upstream call (None = off)."""

    def __init__(self, store: EventLog, fetcher: RankFetcher | None) -> None:
        self.store = store
        self._fetcher = fetcher
        self._tallies: dict[int, _RoomTally] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def ranking(self, info: RoomInfo) -> tuple[dict[str, Any], str]:
        if self._fetcher is not None:
            try:
                data = await self._fetcher(info)
            except DyliveError as exc:
                log.info(
                    "room %s: ranklist upstream failed (%s); using the ledger", info.room_id, exc
                )
            else:
                if data.get("ranks"):
                    return data, "upstream"
                log.info("room %s: ranklist upstream empty; using the ledger", info.room_id)
        return await self.ledger(info), "ledger"

    async def ledger(self, info: RoomInfo) -> dict[str, Any]:
        tally = self._tallies.setdefault(info.room_id, _RoomTally())
        async with self._locks.setdefault(info.room_id, asyncio.Lock()):
            rows = await self.store.messages_of(info.room_id, _METHODS, tally.last_seq)
            deltas: Mapping[int, int | None] = {}
            if any(method == GIFT for _, _, method, _ in rows):
                deltas = await self._deltas(info.room_id, tally.last_seq, rows[-1][0])
            for seq, msg_id, method, raw in rows:
                tally.add(msg_id, method, raw, info.room_id, deltas.get(seq))
                tally.last_seq = seq
        anchor = ascii_uint(str(info.anchor_uid)) or 0
        return ledger_ranking(tally, anchor)

    async def _deltas(self, room_id: int, after: int, until: int) -> dict[int, int | None]:
        """``{seq: gift.delta}`` of the stored gifts with ``after < seq <= until``."""
        out: dict[int, int | None] = {}
        while after < until:
            page = await self.store.read(room_id, after, _PAGE, _GIFTS)
            for m in page.messages:
                gift = orjson.loads(m.rendered).get("payload", {}).get("gift") or {}
                delta = gift.get("delta")
                out[m.seq] = int(delta) if delta is not None else None
            if not page.messages or page.last_seq <= after:
                break
            after = page.last_seq
        return out
