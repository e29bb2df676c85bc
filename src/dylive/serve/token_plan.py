"""A token's plan (name, room limit, rate, quotas, expiry), checked in one place for every way of
setting it: the admin API's JSON bodies (``POST /api/admin/tokens`` creates a token,
``PATCH /api/admin/tokens/{token}`` changes one) and ``dylive token create|update``'s options,
which are turned into the same fields.

Fields: ``name`` (1–64 characters, no control characters), ``room_limit`` (an integer
0–1,000,000; absent or null = the ``room_limit`` setting), ``rate`` (requests/s: 0, or 0.001–1e6),
``quota`` (``requests_per_day``, ``requests_per_month``, ``messages_per_day``,
``messages_per_month``: integers 0–1e12; ``requests_per_second``: the rate, overriding ``rate``),
``expires_at`` (an ISO time or epoch seconds, in the next 10 years; null = never) or
``expires_in`` (seconds from now, more than 0, up to 10 years; null = never). 0 is "no limit"
for the room limit, the rate and the quotas.

A change (:func:`change_of`) takes the same fields, each optional: those given replace the
token's, the others stay (in ``quota`` field by field); a field it does not know is refused.
Every refusal is a :class:`PlanError` naming the field (``quota.requests_per_day`` for a quota).
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from dylive import settings
from dylive.app import usage_report
from dylive.errors import DyliveError
from dylive.store import Quota, TokenChange, TokenRecord, Tokens

from . import tokens

QUOTA_FIELDS = ("requests_per_day", "requests_per_month", "messages_per_day", "messages_per_month")
PLAN_FIELDS = ("name", "room_limit", "rate", "quota", "expires_at", "expires_in")
MAX_NAME = 64
MAX_ROOM_LIMIT = 1_000_000
MAX_QUOTA = 10**12
MAX_RATE = 1e6
#: the lowest rate other than 0 (one request every 1,000 s): a lower one (1e-300 was taken) is a
#: token that can never make a second request, not a plan
MIN_RATE = 1e-3
MAX_EXPIRES_IN = 10 * 365 * 86400  # seconds
#: Unicode categories a name may not hold: control characters (C0, DEL and C1: U+0085 is a line
#: break), surrogates, and the line and paragraph separators (U+2028, U+2029)
_NOT_IN_NAMES = frozenset({"Cc", "Cs", "Zl", "Zp"})


class PlanError(DyliveError):
    """A field of a token's plan is missing, unknown, of the wrong type or out of range;
    ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


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
    """The plan of a new token's ``body`` (JSON values); :class:`PlanError` names the first bad
    field."""
    name = _name(body.get("name"))
    room_limit = _room_limit(body.get("room_limit"))
    quota, quota_rate = _quota(body.get("quota", {}))
    rate = _rate("rate", body.get("rate", 0)) if quota_rate is None else quota_rate
    return TokenPlan(name, room_limit, rate, Quota(**quota), _expiry(body, now_ms))


def change_of(body: dict[str, Any], now_ms: int) -> TokenChange:
    """The change ``body`` asks for (only the fields it has; see the module docstring)."""
    unknown = sorted(set(body) - set(PLAN_FIELDS))
    if unknown:
        raise PlanError(unknown[0], f"unknown field {unknown[0][:64]!r}")
    name = _name(body["name"]) if "name" in body else None
    room_limit = None
    if "room_limit" in body:
        room_limit = _room_limit(body["room_limit"])
        if room_limit is None:  # null: back to the setting
            room_limit = int(settings.number("room_limit"))
    quota, rate = _quota(body["quota"]) if "quota" in body else ({}, None)
    if rate is None and "rate" in body:
        rate = _rate("rate", body["rate"])
    expires_at = None
    if "expires_at" in body or "expires_in" in body:
        expires_at = _expiry(body, now_ms)
    return TokenChange(name, room_limit, rate, expires_at, quota)


def describe(before: TokenRecord, after: TokenRecord) -> str:
    """What changed from ``before`` to ``after``, field by field (``rate 5 -> 10, …``), or
    ``unchanged``: the audit log's detail of a change and ``dylive token update``'s output."""
    pairs: list[tuple[str, Any, Any]] = [
        ("name", repr(before.name), repr(after.name)),
        ("room_limit", before.room_limit, after.room_limit),
        ("rate", _number(before.rate), _number(after.rate)),
        *((f"quota.{q}", getattr(before.quota, q), getattr(after.quota, q)) for q in QUOTA_FIELDS),
        ("expires_at", _when(before.expires_at), _when(after.expires_at)),
    ]
    changed = [f"{name} {old} -> {new}" for name, old, new in pairs if old != new]
    return ", ".join(changed) or "unchanged"


def _number(value: float) -> str:
    """``value`` short (``2.5``, ``0``), but exact when the short form would hide a change."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000)) if ms else "never"


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise PlanError("name", f"name must be a non-empty string of at most {MAX_NAME}")
    if any(unicodedata.category(c) in _NOT_IN_NAMES for c in value):
        raise PlanError("name", "name must not have control characters")
    return value.strip()


def _room_limit(value: Any) -> int | None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ROOM_LIMIT
    ):
        raise PlanError("room_limit", f"room_limit must be an integer 0-{MAX_ROOM_LIMIT}")
    return value


def _count(name: str, value: Any, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high:
        raise PlanError(name, f"{name} must be a number between 0 and {high:g}")
    return value


def _rate(name: str, value: Any) -> float:
    """Requests a second: 0 (no limit) or :data:`MIN_RATE`..:data:`MAX_RATE`."""
    rate = _count(name, value, MAX_RATE)
    if 0 < rate < MIN_RATE:
        raise PlanError(
            name, f"{name} must be 0 (no limit) or between {MIN_RATE:g} and {MAX_RATE:g}"
        )
    return rate


def _quota(raw: Any) -> tuple[dict[str, int], float | None]:
    """The quota fields ``raw`` gives (checked), and its ``requests_per_second`` if any."""
    if not isinstance(raw, dict):
        raise PlanError("quota", "quota must be a JSON object")
    unknown = sorted(set(raw) - {*QUOTA_FIELDS, "requests_per_second"})
    if unknown:
        raise PlanError(f"quota.{unknown[0][:64]}", f"unknown quota field {unknown[0][:64]!r}")
    quota = {}
    for name in QUOTA_FIELDS:
        if name in raw:
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, int):
                raise PlanError(f"quota.{name}", f"quota.{name} must be an integer")
            quota[name] = int(_count(f"quota.{name}", value, MAX_QUOTA))
    rate = None
    if "requests_per_second" in raw:
        rate = _rate("quota.requests_per_second", raw["requests_per_second"])
    return quota, rate


def _expiry(body: dict[str, Any], now: int) -> int:
    if "expires_at" in body and "expires_in" in body:
        raise PlanError("expires_at", "give expires_at or expires_in, not both")
    if "expires_in" in body:
        if body["expires_in"] is None:  # never, as a null expires_at
            return 0
        at = now + int(_count("expires_in", body["expires_in"], MAX_EXPIRES_IN) * 1000)
        if at <= now:  # 0 (or under a millisecond) would expire the token at once
            raise PlanError("expires_in", "expires_in must be more than 0 seconds (null: never)")
        return at
    value = body.get("expires_at")
    if value is None:
        return 0
    if isinstance(value, str):
        try:
            at = usage_report.parse_time(value)
        except usage_report.RangeError as exc:
            raise PlanError("expires_at", f"expires_at: {exc}") from None
    elif isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e13:
        at = int(value * 1000)  # epoch seconds
    else:
        raise PlanError("expires_at", "expires_at must be an ISO time or epoch seconds")
    if at <= now:
        raise PlanError("expires_at", "expires_at is in the past")
    if at > now + MAX_EXPIRES_IN * 1000:
        raise PlanError("expires_at", "expires_at is more than 10 years ahead")
    return at
