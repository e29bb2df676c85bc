"""``GET /api/usage``: a token's own usage, per UTC day or hour, and its quotas.

Query: ``token`` (or ``Authorization: Bearer``), ``from`` / ``to`` (``YYYY-MM-DD``: whole days,
``to`` included; or an ISO time, UTC unless it has an offset), ``granularity`` (``day``, the
default, or ``hour``). Defaults: the last 7 days (24 hours). Figures: see
:mod:`dylive.app.usage_report`; they include this node's counts not flushed yet. A token over
its quota may still read its usage (the read is metered like any request).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dylive.app import usage_report
from dylive.app.quotas import DAY_MS, next_month
from dylive.store import TokenRecord

from .errors import BAD_PARAM, ApiError, ok
from .query import query_of

if TYPE_CHECKING:
    from .app import HttpService as Service

Endpoint = Callable[[Request], Awaitable[Response]]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def report_range(q: Mapping[str, str], now: int) -> tuple[int, int, str]:
    """``(start, end, granularity)`` of the query; ApiError(BAD_PARAM) for bad values."""
    granularity = q.get("granularity") or "day"
    try:
        start, end = usage_report.period_range(q.get("from"), q.get("to"), granularity, now)
    except usage_report.RangeError as exc:
        raise ApiError(BAD_PARAM, str(exc)) from None
    return start, end, granularity


async def quota_view(svc: Service, token: TokenRecord) -> dict[str, Any]:
    """Each quota of the token: limit, used, remaining, reset (epoch seconds); and its rate."""
    q = token.quota
    view: dict[str, Any] = {"requests_per_second": token.rate}
    if not q:
        return view
    used = await svc.quotas.used(token)
    day_reset, month_reset = (used.day + DAY_MS) // 1000, next_month(used.month) // 1000
    for name, limit, spent, reset in (
        ("requests_per_day", q.requests_per_day, used.requests_day, day_reset),
        ("requests_per_month", q.requests_per_month, used.requests_month, month_reset),
        ("messages_per_day", q.messages_per_day, used.messages_day, day_reset),
        ("messages_per_month", q.messages_per_month, used.messages_month, month_reset),
    ):
        if limit:
            remaining = max(0, limit - spent)
            view[name] = {"limit": limit, "used": spent, "remaining": remaining, "reset": reset}
    return view


async def usage(request: Request) -> Response:
    svc: Service = request.app.state.svc
    token = await svc.authorize(request, quota=False)  # readable over the quota too
    start, end, granularity = report_range(query_of(request), now_ms())
    reports = await usage_report.build(
        svc.store,
        {token.id: token.name},
        start,
        end,
        granularity,
        token_id=token.id,
        meter=svc.meter,
    )
    report = reports[0] if reports else usage_report.empty_report(token.id, token.name)
    data = {
        **report,
        "granularity": granularity,
        "from": iso(start),
        "to": iso(end),
        "quota": await quota_view(svc, token),
    }
    return ok(data)


def routes(guard: Callable[[str, Endpoint], Endpoint]) -> list[Route]:
    return [Route("/api/usage", guard("usage", usage), methods=["GET"])]
