"""Quotas: a token's billable requests and delivered messages per UTC day and per UTC month,
checked before each request against running totals kept in memory.

A token's totals are loaded from the store (every node's flushed usage, see
:mod:`dylive.app.usage`) plus this process's unflushed counts the first time it is seen in a
period, then kept up to date by every count of this process (the meter tells the book), and
re-read after each flush for the tokens used since the previous one (picking up the other
nodes' counts).

Exactness: on one node the totals are exact, so a quota of N lets exactly N billable requests
through (requests running at the same time are checked before any of them is counted: each
concurrent request may pass one over). In a fleet a node sees the other nodes' use once they
have flushed and it has re-read: the slack is what the other nodes serve the token within
about two flush intervals (``2 × interval × the token's request rate`` on the other nodes).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import NamedTuple

from dylive.errors import StoreError
from dylive.store import TokenRecord, Usage

from .usage import Meter

log = logging.getLogger(__name__)

DAY_MS = 86_400_000


def day_start(now_ms: int) -> int:
    return now_ms - now_ms % DAY_MS


def month_start(now_ms: int) -> int:
    d = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
    return int(dt.datetime(d.year, d.month, 1, tzinfo=dt.UTC).timestamp() * 1000)


def next_month(month_ms: int) -> int:
    d = dt.datetime.fromtimestamp(month_ms / 1000, dt.UTC)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return int(dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp() * 1000)


@dataclass(slots=True)
class Used:
    """A token's totals in the current day and month (billable requests, messages)."""

    day: int  # ms, start of the UTC day
    month: int  # ms, start of the UTC month
    requests_day: int = 0
    requests_month: int = 0
    messages_day: int = 0
    messages_month: int = 0
    seen: bool = True  # used since the last re-read


class Refusal(NamedTuple):
    """A quota the token has used up: which, its limit, the use, and when it resets (ms)."""

    quota: str
    limit: int
    used: int
    reset_ms: int


class Standing(NamedTuple):
    """The X-RateLimit figures of a token's tightest request quota."""

    limit: int
    remaining: int
    reset_ms: int


class Quotas:
    """The quota book of this process (see the module docstring)."""

    def __init__(self, store: Usage, meter: Meter) -> None:
        self.store = store
        self.meter = meter
        self._used: dict[int, Used] = {}
        meter.listener = self

    def now_ms(self) -> int:
        return int(self.meter.clock() * 1000)

    # -- the meter's listener -----------------------------------------------------------------
    def counted(self, token_id: int, hour: int, billable: int, messages: int) -> None:
        used = self._used.get(token_id)
        if used is None:
            return
        used.seen = True
        if hour >= used.day:
            used.requests_day += billable
            used.messages_day += messages
        if hour >= used.month:
            used.requests_month += billable
            used.messages_month += messages

    # -- checks -------------------------------------------------------------------------------
    async def used(self, record: TokenRecord) -> Used:
        """The token's totals for the current day and month (loaded when the period changed)."""
        now = self.now_ms()
        day, month = day_start(now), month_start(now)
        used = self._used.get(record.id)
        if used is None or used.day != day or used.month != month:
            used = await self._load(record.id, day, month)
        return used

    async def check(self, record: TokenRecord, *, messages_only: bool = False) -> Refusal | None:
        """The first used-up quota of the token (None: it may go on; also without a quota).
        ``messages_only``: only the message quotas (what an open stream or feed spends)."""
        q = record.quota
        if not q or (messages_only and not (q.messages_per_day or q.messages_per_month)):
            return None
        used = await self.used(record)
        day_reset, month_reset = used.day + DAY_MS, next_month(used.month)
        for name, limit, spent, reset in (
            ("requests_per_day", q.requests_per_day, used.requests_day, day_reset),
            ("requests_per_month", q.requests_per_month, used.requests_month, month_reset),
            ("messages_per_day", q.messages_per_day, used.messages_day, day_reset),
            ("messages_per_month", q.messages_per_month, used.messages_month, month_reset),
        ):
            if messages_only and name.startswith("requests"):
                continue
            if limit and spent >= limit:
                return Refusal(name, limit, spent, reset)
        return None

    def standing(self, record: TokenRecord) -> Standing | None:
        """The tightest request quota's limit, what remains of it and its reset (None without
        a request quota or before the token was checked)."""
        q = record.quota
        used = self._used.get(record.id)
        if used is None or not (q.requests_per_day or q.requests_per_month):
            return None
        figures = []
        if q.requests_per_day:
            left = q.requests_per_day - used.requests_day
            figures.append(Standing(q.requests_per_day, left, used.day + DAY_MS))
        if q.requests_per_month:
            left = q.requests_per_month - used.requests_month
            figures.append(Standing(q.requests_per_month, left, next_month(used.month)))
        best = min(figures, key=lambda s: s.remaining)
        return best._replace(remaining=max(0, best.remaining))

    def messages_left(self, record: TokenRecord) -> int | None:
        """Messages the token may still receive today and this month (None: no such quota).
        Asked before each message an SSE stream sends (no list, no min() of one)."""
        q = record.quota
        day, month = q.messages_per_day, q.messages_per_month
        if not (day or month):
            return None
        used = self._used.get(record.id)
        if used is None:
            return None
        if day:
            left = day - used.messages_day
            if month and month - used.messages_month < left:
                left = month - used.messages_month
        else:
            left = month - used.messages_month
        return left if left > 0 else 0

    # -- loading ------------------------------------------------------------------------------
    async def _load(self, token_id: int, day: int, month: int) -> Used:
        day_totals = await self.store.usage_totals([token_id], day)
        month_totals = await self.store.usage_totals([token_id], month)
        used = self._combine(token_id, day, month, day_totals, month_totals)
        self._used[token_id] = used
        return used

    def _combine(
        self,
        token_id: int,
        day: int,
        month: int,
        day_totals: dict[int, tuple[int, int]],
        month_totals: dict[int, tuple[int, int]],
    ) -> Used:
        """Stored totals plus this process's unflushed counts (computed now, after the read:
        counts made while it ran are unflushed, so neither lost nor counted twice)."""
        req_d, msg_d = day_totals.get(token_id, (0, 0))
        req_m, msg_m = month_totals.get(token_id, (0, 0))
        pend_req_d, pend_msg_d = self.meter.pending_totals(token_id, day)
        pend_req_m, pend_msg_m = self.meter.pending_totals(token_id, month)
        return Used(
            day,
            month,
            req_d + pend_req_d,
            req_m + pend_req_m,
            msg_d + pend_msg_d,
            msg_m + pend_msg_m,
            seen=False,
        )

    async def refresh(self) -> None:
        """Re-read the totals of the tokens used since the last re-read (after a flush: the
        other nodes' flushed counts come in); forget tokens idle since the one before."""
        now = self.now_ms()
        day, month = day_start(now), month_start(now)
        for token_id in [t for t, u in self._used.items() if not u.seen]:
            del self._used[token_id]
        ids = [t for t, u in self._used.items() if u.day == day and u.month == month]
        if not ids:
            return
        try:
            day_totals = await self.store.usage_totals(ids, day)
            month_totals = await self.store.usage_totals(ids, month)
        except StoreError as exc:
            log.warning("quotas: totals not re-read: %s", exc)
            return
        for token_id in ids:
            if token_id in self._used:
                self._used[token_id] = self._combine(token_id, day, month, day_totals, month_totals)
