"""A new token's plan (name, room limit, rate, quotas, expiry), checked in one place for both ways
of creating a token: the admin API's JSON body (``POST /api/admin/tokens``) and
``dylive token create``'s options, which are turned into the same fields.

Fields: ``name`` (1–64 characters), ``room_limit`` (an integer >= 0; absent = the
``room_limit`` setting), ``rate`` (requests/s, 0–1e6), ``quota`` (``requests_per_day``,
``requests_per_month``, ``messages_per_day``, ``messages_per_month``: integers 0–1e12;
``requests_per_second``: the rate, overriding ``rate``), ``expires_at`` (an ISO time or epoch
seconds, in the next 10 years) or ``expires_in`` (seconds from now, up to 10 years).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dylive.app import usage_report
from dylive.errors import DyliveError
from dylive.store import Quota, Tokens

from . import tokens

QUOTA_FIELDS = ("requests_per_day", "requests_per_month", "messages_per_day", "messages_per_month")
MAX_NAME = 64
MAX_QUOTA = 10**12
MAX_RATE = 1e6
MAX_EXPIRES_IN = 10 * 365 * 86400  # seconds


class PlanError(DyliveError):
    """A field of a new token's plan is missing, of the wrong type or out of range."""


@dataclass(frozen=True, slots=True)
class TokenPlan:
    """A checked plan (see the module docstring); :meth:`create` stores the token."""

    name: str
    room_limit: int | None = None  # None = the room_limit setting
    rate: float = 0.0
    quota: Quota = field(default_factory=Quota)
    expires_at: int = 0  # ms since the epoch, 0 = never

    async def create(self, store: Tokens) -> tuple[int, str]:
        """Store the token: its id and its secret (shown once)."""
        return await tokens.create_record(
            store,
            self.name,
            room_limit=self.room_limit,
            rate=self.rate,
            expires_at=self.expires_at,
            quota=self.quota,
        )


def plan_of(body: dict[str, Any], now_ms: int) -> TokenPlan:
    """The plan of ``body`` (JSON values); :class:`PlanError` names the first bad field."""
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise PlanError(f"name must be a non-empty string of at most {MAX_NAME}")
    room_limit = body.get("room_limit")
    if room_limit is not None and (
        isinstance(room_limit, bool) or not isinstance(room_limit, int) or room_limit < 0
    ):
        raise PlanError("room_limit must be an integer >= 0")
    quota, quota_rate = _quota(body)
    rate = _count(body, "rate", MAX_RATE) if quota_rate is None else quota_rate
    return TokenPlan(name.strip(), room_limit, rate, quota, _expiry(body, now_ms))


def _count(body: dict[str, Any], name: str, high: float) -> float:
    value = body.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high:
        raise PlanError(f"{name} must be a number between 0 and {high:g}")
    return value


def _quota(body: dict[str, Any]) -> tuple[Quota, float | None]:
    raw = body.get("quota", {})
    if not isinstance(raw, dict):
        raise PlanError("quota must be a JSON object")
    unknown = set(raw) - {*QUOTA_FIELDS, "requests_per_second"}
    if unknown:
        raise PlanError(f"unknown quota field {sorted(unknown)[0]!r}")
    for name in QUOTA_FIELDS:
        value = raw.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            raise PlanError(f"quota.{name} must be an integer")
    quota = Quota(*(int(_count(raw, name, MAX_QUOTA)) for name in QUOTA_FIELDS))
    rate = _count(raw, "requests_per_second", MAX_RATE) if "requests_per_second" in raw else None
    return quota, rate


def _expiry(body: dict[str, Any], now: int) -> int:
    if "expires_at" in body and "expires_in" in body:
        raise PlanError("give expires_at or expires_in, not both")
    if "expires_in" in body:
        return now + int(_count(body, "expires_in", MAX_EXPIRES_IN) * 1000)
    value = body.get("expires_at")
    if value is None:
        return 0
    if isinstance(value, str):
        try:
            at = usage_report.parse_time(value)
        except usage_report.RangeError as exc:
            raise PlanError(f"expires_at: {exc}") from None
    elif isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e13:
        at = int(value * 1000)  # epoch seconds
    else:
        raise PlanError("expires_at must be an ISO time or epoch seconds")
    if at <= now:
        raise PlanError("expires_at is in the past")
    if at > now + MAX_EXPIRES_IN * 1000:
        raise PlanError("expires_at is more than 10 years ahead")
    return at
