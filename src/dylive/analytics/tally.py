"""The running totals of one broadcast, folded from stored messages in seq order (pure).

A :class:`SessionTally` sees each stored message once (the caller feeds rows after its
checkpointed seq) as the stored public JSON shape (docs/events.md), and keeps everything a
report needs: counts per method, gift value from each gift's stored ``gift.delta`` (the new gifts
it adds, computed once by the service's ledger where it was ingested: each combo counted once,
whatever the order; rows stored without a delta go through a :class:`~dylive.decode.GiftLedger`
of the tally's own, built on the first such row), gifters, chatters, likes, follows, shares, fans-club
joins, viewer figures, per-minute buckets and the in-stream ranking scores for reconciliation.
Users are keyed by their stable key (:func:`dylive.decode.events.user_key`): the uid, or the
per-room ``webcast_uid`` of a user Douyin masked (all of them arrive as uid 111111).
``checkpoint`` / ``from_state`` make it a checkpoint in two pieces: the state (the totals of
fixed size: counts, the gift table, the ledger's streaks) rewritten each time, and a part
holding only what the folds since the previous checkpoint changed of what grows with the
session (new chatters; the gifters, ranked users and minutes whose entries changed); the store
appends the part beside the state (``Sessions.save_session``), so a checkpoint costs what
changed, not the session's size.
Parts are compacted: the session's oldest parts are always whole (the first one holds everything
since the start; a compaction rewrites every chatter, gifter, ranked user and minute, and the
store deletes the parts before it). ``compact_due`` says when: once the parts after the whole
ones cost at least as much to load as they do (their bytes plus :data:`PART_COST` each) and at
least ``floor`` bytes. The compaction is staged (``staging.py``): a bounded slice of it rides on
each of the checkpoints that follow (at least what the checkpoint changed), and the last one
deletes the parts before the first, so a checkpoint costs what changed (amortised); a load reads
about three times the session's size whatever its length (the old whole parts, the parts after
them and a stage in progress), up to ~6 when every checkpoint rewrites much of the session
(tests/analytics/test_staged_compaction.py). A session's end (``final_checkpoint``) rewrites
the whole tally in its part, in bounded pieces, when a stage is in progress or due.
A state that holds the whole tally in one blob (what releases before parts saved, with no parts)
still loads: ``from_state`` reads its growing collections as not checkpointed yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from dylive.decode import GiftEvent, GiftLedger, UserInfo
from dylive.decode.events import (
    SOCIAL_FOLLOW,
    SOCIAL_SHARE,
    UserKey,
    is_masked,
    json_user_key,
)

from .staging import PART_COST as PART_COST
from .staging import ROW, PartLog, Stage, drained, whole_part
from .staging import SLICE as SLICE
from .staging import Checkpoint as Checkpoint

#: FansclubMessage.action 2: a viewer joined the fans club.
FANSCLUB_JOIN = 2
MINUTE_MS = 60_000

#: compact no sooner than this many bytes (and PART_COST each) of parts after the whole one:
#: a small session's parts load in well under a millisecond anyway, and are not rewritten at
#: every checkpoint
COMPACT_FLOOR = 64 * 1024

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
    gifters: dict[UserKey, list[Any]] = field(
        default_factory=dict
    )  # key -> [nick, dia, gifts, pay]
    chatters: set[UserKey] = field(default_factory=set)
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
    ranks: dict[UserKey, list[Any]] = field(default_factory=dict)  # key -> [nick, douyin, ours]
    #: only for rows stored without ``gift.delta`` (built on the first one): see the module doc
    ledger: GiftLedger | None = None
    #: catalogue diamonds per gift id: the price of a gift whose message carries none
    prices: Mapping[int, int] = field(default_factory=dict)
    #: since the last checkpoint: chatters added, gifters and ranked users changed
    fresh: list[UserKey] = field(default_factory=list, compare=False, repr=False)
    touched_gifters: set[UserKey] = field(default_factory=set, compare=False, repr=False)
    touched_ranks: set[UserKey] = field(default_factory=set, compare=False, repr=False)
    touched_minutes: set[int] = field(default_factory=set, compare=False, repr=False)
    #: the bytes of the session's whole (oldest) part and the cost of the parts after it
    whole_bytes: int = field(default=0, compare=False, repr=False)
    debt: int = field(default=0, compare=False, repr=False)
    #: every checkpointed chatter, in segments (one per checkpoint, or per loaded part): what a
    #: stage slices without copying the set (``list(set)`` of 550k chatters: ~10-25 ms of the
    #: loop). Tuples of ints and strs only, which the garbage collector stops tracking: a list of
    #: 550k beside the set made a full ``gc.collect()`` 44 ms instead of 31.
    _segments: list[tuple[UserKey, ...]] = field(default_factory=list, compare=False, repr=False)
    #: the staged compaction in progress (``staging.py``) and the seq of the last saved checkpoint
    _stage: Stage | None = field(default=None, compare=False, repr=False)
    _saved_seq: int = field(default=0, compare=False, repr=False)
    #: the last message's minute and bucket (already in ``touched_minutes``)
    _minute: int = field(default=-1, compare=False, repr=False)
    _bucket: list[int] = field(default_factory=list, compare=False, repr=False)

    # -- folding ------------------------------------------------------------------------------
    def add(
        self, seq: int, msg_id: int, method: str, created_at: int, payload: Mapping[str, Any]
    ) -> None:
        """Fold one stored message: its envelope and its rendered ``payload`` (the public JSON
        shape, docs/events.md; empty for methods whose fields are not needed)."""
        self.last_seq = max(self.last_seq, seq)
        self.counts[method] = self.counts.get(method, 0) + 1
        at = self._clock(created_at)
        minute = at // MINUTE_MS
        if minute == self._minute:  # the minute of the previous message: its bucket, marked
            bucket = self._bucket
        else:
            found = self.minutes.get(minute)
            if found is None:
                found = self.minutes[minute] = [-1, 0, 0, 0, 0]
            bucket = found
            self.touched_minutes.add(minute)
            self._minute, self._bucket = minute, bucket
        bucket[MESSAGES] += 1
        fold = _FOLDS.get(method)
        if fold is not None and payload:
            fold(self, bucket, msg_id, payload)
        if method == CONTROL and (payload.get("control") or {}).get("ended"):
            self.ended_at = at

    def _clock(self, created_at: int) -> int:
        """The message's time (ms), the last known one when the wire has none; tracks silence."""
        at = created_at or self.last_at
        if at and self.last_at and at > self.last_at:
            self.max_silence = max(self.max_silence, at - self.last_at)
        if at and not self.first_at:
            self.first_at = at
        self.last_at = max(self.last_at, at)
        return at

    def _gift(self, bucket: list[int], msg_id: int, p: Mapping[str, Any]) -> None:
        gift, user = p.get("gift") or {}, p.get("user") or {}
        event = gift_event(msg_id, gift, user)
        stored = gift.get("delta")
        if stored is not None:
            added = int(stored)
        else:
            if self.ledger is None:
                self.ledger = GiftLedger()
            added = self.ledger.delta(event)
        if added <= 0:
            return
        unit = event.diamond_count or self.prices.get(event.gift_id, 0)
        value = added * unit
        bucket[DIAMONDS] += value
        self.gifts += added
        self.diamonds += value
        entry = self.by_gift.setdefault(event.gift_id, [event.gift_name, 0, 0])
        entry[0] = entry[0] or event.gift_name
        entry[1] += added
        entry[2] += value
        self.touched_gifters.add(event.user.key)
        giver = self.gifters.setdefault(event.user.key, [event.user.nickname, 0, 0, 0])
        giver[0] = event.user.nickname or giver[0]
        giver[1] += value
        giver[2] += added
        giver[3] = max(giver[3], event.user.pay_grade_level)

    def _chat(self, bucket: list[int], msg_id: int, p: Mapping[str, Any]) -> None:
        bucket[CHAT] += 1
        key = json_user_key(p.get("user"))
        if key and key not in self.chatters:
            self.chatters.add(key)
            self.fresh.append(key)

    def _like(self, bucket: list[int], msg_id: int, p: Mapping[str, Any]) -> None:
        count = int((p.get("like") or {}).get("count") or 0)
        bucket[LIKES] += count
        self.likes += count

    def _viewers(self, bucket: list[int], msg_id: int, p: Mapping[str, Any]) -> None:
        viewers = p.get("viewers") or {}
        total = int(viewers.get("total") or 0)
        bucket[VIEWERS] = max(bucket[VIEWERS], total)
        self.viewers_peak = max(self.viewers_peak, total)
        self.viewers_sum += total
        self.viewers_n += 1
        self.cumulative = max(self.cumulative, int(viewers.get("total_user") or 0))
        self._ranks(bucket, msg_id, p)

    def _ranks(self, bucket: list[int], msg_id: int, p: Mapping[str, Any]) -> None:
        """Douyin's score per ranked user beside ours at the same point of the stream."""
        for entry in p.get("ranks") or ():
            user = entry.get("user") or {}
            key = json_user_key(user)
            if not key:
                continue
            score = int(entry.get("score") or 0) or _digits(str(entry.get("score_str") or ""))
            ours = self.gifters.get(key, [None, 0])[1]
            nick = user.get("nickname") or self.ranks.get(key, [""])[0]
            self.ranks[key] = [nick, score, ours]
            self.touched_ranks.add(key)

    def _social(self, bucket: list[int], msg_id: int, p: Mapping[str, Any]) -> None:
        action = (p.get("social") or {}).get("action")
        if action == SOCIAL_FOLLOW:
            self.follows += 1
        elif action == SOCIAL_SHARE:
            self.shares += 1

    def _fansclub(self, bucket: list[int], msg_id: int, p: Mapping[str, Any]) -> None:
        if (p.get("fansclub") or {}).get("action") == FANSCLUB_JOIN:
            self.joins += 1

    # -- checkpoint ---------------------------------------------------------------------------
    def checkpoint(self, floor: int | None = None, budget: int = SLICE) -> Checkpoint:
        """The state (fixed size) and the part (what grew since the last :meth:`checkpointed`;
        b"" when nothing did) of a checkpoint; its cost follows what changed, not the session.
        ``floor``: compact when due (:meth:`compact_due`); a staged compaction in progress adds
        its next slice (``staging.py``) to the part: at most ``budget`` units, or what changed
        when that is more (a checkpoint then writes at most twice what changed)."""
        data = self._fixed()
        part: dict[str, Any] = {}
        if self.fresh:
            part["chatters"] = self.fresh
        if self.touched_gifters:
            part["gifters"] = _rows(self.gifters, self.touched_gifters)
        if self.touched_ranks:
            part["ranks"] = _rows(self.ranks, self.touched_ranks)
        if self.touched_minutes:
            part["minutes"] = _rows(self.minutes, self.touched_minutes)
        state, stage = orjson.dumps(data), self._stage
        if stage is None and floor is not None and self.compact_due(floor):
            stage = self._new_stage()
        if stage is None or self.last_seq <= self._saved_seq:  # a slice needs a new seq
            return Checkpoint(state, orjson.dumps(part) if part else b"", self.last_seq)
        # a slice of at least what changed: a stage that moved less per checkpoint than the
        # checkpoints rewrite would store those rewrites again at each of them (unbounded)
        keys, at = stage.take(max(budget, self._changed()))
        self._slice(part, keys)
        done, start = stage.done(at), stage.start or self.last_seq
        part["stage"] = [start, int(done)]
        drop = start if done else 0
        return Checkpoint(state, orjson.dumps(part), self.last_seq, drop, stage, at)

    def final_checkpoint(
        self, floor: int | None = None, budget: int = SLICE
    ) -> Iterator[Checkpoint | None]:
        """The checkpoint of a session's end, in bounded pieces: None after each slice (of at
        most ``budget`` units) is serialized, for the caller to yield to its loop, then the
        :class:`Checkpoint`. An ended session is never checkpointed again, so a stage in
        progress or due (``floor``) would keep its old parts and the stage's (~3x the session
        to load) for good: the part is then the whole tally (``whole``), saved under the
        checkpoint's seq, and the parts up to that seq go (one saved under it already too)."""
        if floor is None or not (self.compacting or self.compact_due(floor)):
            yield self.checkpoint(floor, budget)
            return
        segments = [*self._segments, tuple(self.fresh)]
        part = yield from whole_part(segments, [self.gifters, self.ranks, self.minutes], budget)
        data = orjson.dumps(self._fixed())
        yield Checkpoint(data, part, self.last_seq, self.last_seq + 1, whole=True)

    def _changed(self) -> int:
        """The work (slice units) of what this checkpoint's part holds before a slice."""
        rows = len(self.touched_gifters) + len(self.touched_ranks) + len(self.touched_minutes)
        return len(self.fresh) + ROW * rows

    def _new_stage(self) -> Stage:
        """A compaction of everything the tally holds now (the chatters checkpointed so far:
        the new ones are in this part already); the segments are not copied: the list only
        grows, and the stage ends at its length now."""
        rows: list[list[Any]] = [list(self.gifters), list(self.ranks), list(self.minutes)]
        return Stage(self._segments, rows, [len(self._segments), *(len(r) for r in rows)])

    def _slice(self, part: dict[str, Any], keys: list[list[Any]]) -> None:
        """Add a slice's keys with their entries now to ``part`` (the rows the part holds
        already, changed since the last checkpoint, are not written twice)."""
        chatters, gifters, ranks, minutes = keys
        if chatters:
            part["chatters"] = [*part.get("chatters", ()), *chatters]
        for name, entries, touched, sliced in (
            ("gifters", self.gifters, self.touched_gifters, gifters),
            ("ranks", self.ranks, self.touched_ranks, ranks),
            ("minutes", self.minutes, self.touched_minutes, minutes),
        ):
            rows = [[k, *entries[k]] for k in sliced if k not in touched]
            if rows:
                part[name] = [*part.get(name, ()), *rows]

    def _whole_part(self) -> bytes:
        """Every chatter, gifter, ranked user and minute in one part (the tests' reference)."""
        growing: list[Mapping[Any, list[Any]]] = [self.gifters, self.ranks, self.minutes]
        return drained(whole_part([tuple(self.chatters)], growing, SLICE))

    def compact_due(self, floor: int = COMPACT_FLOOR) -> bool:
        """A compaction should start (see the module doc): none is in progress, there are
        parts, and the parts after the whole ones cost at least as much to load as they do, and
        ``floor``."""
        due = self.whole_bytes > 0 and self.debt >= max(self.whole_bytes, floor)
        return due and self._stage is None

    @property
    def compacting(self) -> bool:
        """A staged compaction is in progress."""
        return self._stage is not None

    def checkpointed(self, saved: Checkpoint | None = None) -> None:
        """The checkpoint ``saved`` was saved (None: one without a part): the next part starts
        from here, and a staged compaction moves on (and ends with its last slice)."""
        part = saved.part if saved is not None else b""
        if saved is not None:
            self._saved_seq = saved.seq
        stage = saved.stage if saved is not None and saved.stage is not None else self._stage
        if part and stage is not None:  # a part of a stage in progress
            stage.cost += len(part) + PART_COST
        if saved is not None and saved.whole:  # every part before it is deleted
            self.whole_bytes, self.debt, self._stage = len(part), 0, None
        elif saved is not None and saved.stage is not None:
            stage = self._stage = saved.stage
            stage.start, stage.at = stage.start or saved.seq, saved.at or stage.at
            if stage.done():
                self.whole_bytes, self.debt = stage.cost - PART_COST, 0
                self._stage = None
        elif part and not self.whole_bytes:  # the oldest part is whole
            self.whole_bytes, self.debt = len(part), 0
        elif part and stage is None:
            self.debt += len(part) + PART_COST
        if self.fresh:
            self._segments.append(tuple(self.fresh))
        self.fresh = []
        self.touched_gifters = set()
        self.touched_ranks = set()
        self.touched_minutes = set()
        self._minute = -1

    def _fixed(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in _PLAIN}
        data["parts"] = 1
        data["by_gift"] = [[k, *v] for k, v in self.by_gift.items()]
        data["streaks"] = self.ledger.streaks() if self.ledger is not None else []
        return data

    @classmethod
    def from_state(cls, state: bytes, parts: Iterable[bytes] = ()) -> SessionTally:
        """The tally of a checkpoint: its state and its parts in the order they were saved.
        What a whole-tally state (a checkpoint saved before parts) holds of the
        growing collections counts as not checkpointed yet: the next part writes it out."""
        tally = cls()
        if not state:
            return tally
        data = orjson.loads(state)
        for name in _PLAIN:
            setattr(tally, name, data[name])
        tally.by_gift = {row[0]: row[1:] for row in data["by_gift"]}
        if data["streaks"]:
            tally.ledger = GiftLedger()
            tally.ledger.restore([(u, g, k, n) for u, g, k, n in data["streaks"]])
        if "chatters" in data:
            tally.chatters = set(data["chatters"])
            tally.fresh = list(data["chatters"])
        if "gifters" in data:
            tally.gifters = {row[0]: row[1:] for row in data["gifters"]}
            tally.touched_gifters = set(tally.gifters)
        if "ranks" in data:
            tally.ranks = {row[0]: row[1:] for row in data["ranks"]}
            tally.touched_ranks = set(tally.ranks)
        if "minutes" in data:
            tally.minutes = {row[0]: row[1:] for row in data["minutes"]}
            tally.touched_minutes = set(tally.minutes)
        log, segments = PartLog(), []
        blobs = list(parts)
        for blob in blobs:
            part = orjson.loads(blob)
            log.see(part, len(blob))
            chatters = part.get("chatters", ())
            tally.chatters.update(chatters)
            if chatters:
                segments.append(tuple(chatters))
            for row in part.get("gifters", ()):
                tally.gifters[row[0]] = row[1:]
            for row in part.get("ranks", ()):
                tally.ranks[row[0]] = row[1:]
            for row in part.get("minutes", ()):
                tally.minutes[row[0]] = row[1:]
        tally.whole_bytes, tally.debt, _ = log.accounting()
        # the chatters as the parts hold them (each in one, but when a stage is unfinished; then
        # the set's; a whole-tally state's are not checkpointed yet: fresh)
        if sum(map(len, segments)) + len(tally.fresh) != len(tally.chatters):
            segments = [tuple(tally.chatters - set(tally.fresh))]
        tally._segments = segments
        tally._saved_seq = tally.last_seq
        growing = [tally.chatters, tally.gifters, tally.ranks, tally.minutes]
        # an unfinished stage (rare: cut short) reads its parts again for the keys they hold
        # (holding every part meanwhile made each load of a finished one ~1.5x slower)
        staged = [orjson.loads(b) for b in blobs[log.open_at :]] if log.open_at >= 0 else []
        tally._stage = log.resume(staged, growing)
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


CONTROL = "WebcastControlMessage"
_FOLDS: dict[str, Callable[[SessionTally, list[int], int, Mapping[str, Any]], None]] = {
    "WebcastGiftMessage": SessionTally._gift,
    "WebcastChatMessage": SessionTally._chat,
    "WebcastLikeMessage": SessionTally._like,
    "WebcastRoomUserSeqMessage": SessionTally._viewers,
    "WebcastRoomRankMessage": SessionTally._ranks,
    "WebcastSocialMessage": SessionTally._social,
    "WebcastFansclubMessage": SessionTally._fansclub,
}
#: Methods whose rendered payload the fold reads (the others count by their envelope alone).
READ = frozenset({*_FOLDS, CONTROL})


def gift_event(msg_id: int, gift: Mapping[str, Any], user: Mapping[str, Any]) -> GiftEvent:
    """The GiftEvent the ledger needs, from a rendered gift message's ``gift`` and ``user``."""
    uid = int(user.get("uid") or 0)
    token = str(user.get("webcast_uid") or "")
    return GiftEvent(
        method="WebcastGiftMessage",
        msg_id=msg_id,
        room_id=0,
        user=UserInfo(
            uid=uid,
            nickname=str(user.get("nickname") or ""),
            pay_grade_level=int(user.get("pay_grade_level") or 0),
            webcast_uid=token,
            masked=user.get("masked") is True or is_masked(uid, token),
        ),
        gift_id=int(gift.get("id") or 0),
        gift_name=str(gift.get("name") or ""),
        diamond_count=int(gift.get("diamond_count") or 0),
        repeat_count=int(gift.get("repeat_count") or 0),
        group_count=int(gift.get("group_count") or 0),
        group_id=int(gift.get("group_id") or 0),
        repeat_end=int(gift.get("repeat_end") or 0),
    )


def _ordered(keys: set[UserKey]) -> list[UserKey]:
    """``sorted(keys, key=key_order)`` (ints by value, then webcast_uids) without a key call per
    user (a checkpoint sorts every chatter of the session, every few seconds)."""
    try:
        return sorted(keys)  # one kind of key only (the usual case): one sort in C
    except TypeError:  # both kinds
        ints: list[UserKey] = sorted(k for k in keys if isinstance(k, int))
        return ints + sorted(k for k in keys if isinstance(k, str))


def _rows(entries: Mapping[Any, list[Any]], keys: set[Any]) -> list[list[Any]]:
    """``[key, *entry]`` of the ``keys`` of ``entries``, in key order (the same bytes for the
    same changes, whatever the set's order)."""
    return [[k, *entries[k]] for k in _ordered(keys)]


def _digits(text: str) -> int:
    digits = "".join(ch for ch in text if ch.isdigit())
    return int(digits) if digits else 0
