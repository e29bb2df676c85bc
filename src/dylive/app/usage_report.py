"""Usage reports: the hourly rows of :mod:`dylive.app.usage` summed per token and per UTC day or
hour, as ``GET /api/usage``, the admin API and ``dylive usage`` show them.

A period's figures: ``requests`` (every answered request), ``billable`` (those answered 200),
``by_endpoint`` (``{endpoint: {code: requests}}``), ``messages`` (delivered by chat pages,
webhooks, feeds and SSE streams; ``messages_by`` splits them), ``bytes`` (response bodies) and ``rooms``
(distinct rooms the token used in the period).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from dylive.store import Usage, UsageRow

from .usage import HOUR_MS, Meter

DAY_MS = 86_400_000
GRANULARITIES = {"day": DAY_MS, "hour": HOUR_MS}
#: Periods one report may span at most.
MAX_PERIODS = {"day": 400, "hour": 24 * 31}


class RangeError(ValueError):
    """A ``from``/``to``/``granularity`` that cannot make a report (the message says why)."""


def parse_time(text: str, *, end: bool = False) -> int:
    """ms since the epoch of ``YYYY-MM-DD`` (a whole day: its end when ``end``) or an ISO date
    and time (UTC unless it has an offset)."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.UTC)
            return int(day.timestamp() * 1000) + (DAY_MS if end else 0)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RangeError(f"not a date (YYYY-MM-DD) or ISO time: {text[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def period_range(
    start: str | None, end: str | None, granularity: str, now_ms: int
) -> tuple[int, int]:
    """``[start, end)`` in ms, aligned on the granularity: defaults are the last 7 days
    (``day``) or 24 hours (``hour``) up to now."""
    if granularity not in GRANULARITIES:
        raise RangeError(f"granularity is day or hour, not {granularity[:20]!r}")
    step = GRANULARITIES[granularity]
    stop = parse_time(end, end=True) if end else now_ms
    stop = -(-stop // step) * step  # up to the end of its period
    first = parse_time(start) if start else stop - (7 if granularity == "day" else 24) * step
    first -= first % step
    if first >= stop:
        raise RangeError("from must be before to")
    if (stop - first) // step > MAX_PERIODS[granularity]:
        raise RangeError(f"at most {MAX_PERIODS[granularity]} {granularity}s per report")
    return first, stop


def label(start_ms: int, granularity: str) -> str:
    moment = dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%d" if granularity == "day" else "%Y-%m-%dT%H:00Z")


def _empty() -> dict[str, Any]:
    return {
        "requests": 0,
        "billable": 0,
        "messages": 0,
        "bytes": 0,
        "rooms": 0,
        "by_endpoint": {},
        "messages_by": {},
    }


def _add(into: dict[str, Any], row: UsageRow) -> None:
    into["requests"] += row.requests
    into["billable"] += row.requests if row.code == 200 else 0
    into["messages"] += row.messages
    into["bytes"] += row.bytes
    if row.requests:
        codes = into["by_endpoint"].setdefault(row.endpoint, {})
        codes[str(row.code)] = codes.get(str(row.code), 0) + row.requests
    if row.messages:
        by = into["messages_by"]
        by[row.endpoint] = by.get(row.endpoint, 0) + row.messages


def summarize(
    rows: Iterable[UsageRow],
    rooms: Iterable[tuple[int, int, int]],
    names: Mapping[int, str],
    start_ms: int,
    end_ms: int,
    granularity: str,
) -> list[dict[str, Any]]:
    """One report per token of ``names`` that has usage in ``[start_ms, end_ms)``: its periods
    (only those with usage, oldest first) and its total."""
    step = GRANULARITIES[granularity]
    periods: dict[int, dict[int, dict[str, Any]]] = {}
    totals: dict[int, dict[str, Any]] = {}
    for row in rows:
        if not start_ms <= row.hour < end_ms or row.token_id not in names:
            continue
        at = row.hour - row.hour % step
        _add(periods.setdefault(row.token_id, {}).setdefault(at, _empty()), row)
        _add(totals.setdefault(row.token_id, _empty()), row)
    used: dict[int, dict[int, set[int]]] = {}
    every: dict[int, set[int]] = {}
    for token_id, hour, room_id in rooms:
        if not start_ms <= hour < end_ms or token_id not in names:
            continue
        used.setdefault(token_id, {}).setdefault(hour - hour % step, set()).add(room_id)
        every.setdefault(token_id, set()).add(room_id)
    reports = []
    for token_id in sorted(set(periods) | set(every)):
        token_periods = periods.get(token_id, {})
        for at, room_ids in used.get(token_id, {}).items():
            token_periods.setdefault(at, _empty())["rooms"] = len(room_ids)
        total = totals.get(token_id, _empty())
        total["rooms"] = len(every.get(token_id, ()))
        reports.append(
            {
                "token": names[token_id],
                "token_id": token_id,
                "periods": [
                    {"period": label(at, granularity), **figures}
                    for at, figures in sorted(token_periods.items())
                ],
                "total": total,
            }
        )
    return reports


async def build(
    store: Usage,
    names: Mapping[int, str],
    start_ms: int,
    end_ms: int,
    granularity: str,
    *,
    token_id: int | None = None,
    meter: Meter | None = None,
) -> list[dict[str, Any]]:
    """The reports of :func:`summarize` from the store's rows (of one token, or all) plus the
    ``meter``'s counts not flushed yet."""
    rows = await store.usage(token_id, start_ms, end_ms)
    rooms = await store.usage_rooms(token_id, start_ms, end_ms)
    if meter is not None:
        rows = [*rows, *meter.pending(token_id)]
        rooms = [*rooms, *meter.pending_rooms(token_id)]
    return summarize(rows, rooms, names, start_ms, end_ms, granularity)


def empty_report(token_id: int, name: str) -> dict[str, Any]:
    """The report of a token without usage in the range."""
    return {"token": name, "token_id": token_id, "periods": [], "total": _empty()}
