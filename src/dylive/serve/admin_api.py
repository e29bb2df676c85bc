"""The admin API: tokens, usage and the audit log, for the operator's own billing or sign-up
system. Every route needs the admin key (``dylive serve --admin-key`` / ``DYLIVE_ADMIN_KEY``)
as ``Authorization: Bearer <key>``; the service keeps only its sha256 digest and compares
digests in constant time. Without an admin key configured every route answers 40303; without
the right key 40101 (and the refusal is audited).

- ``POST /api/admin/tokens`` — create: ``{"name", "room_limit", "rate", "quota": {...},
  "expires_at" | "expires_in"}``; ``data.token`` is the new secret, shown once.
- ``GET /api/admin/tokens`` — every token with its quota and today's / this month's usage.
- ``PATCH /api/admin/tokens/{token}`` — change the plan of the active token with this id or
  name in place (the same fields as create, each optional; the secret stays); the audit entry's
  detail has each changed field before and after.
- ``DELETE /api/admin/tokens/{token}`` — revoke (by id or name).
- ``GET /api/admin/usage`` — usage reports of every token (``token=`` name or id for one).
- ``GET /api/admin/audit`` — the audit log, newest first (``limit``, ``before``).

Every admin request is written to the audit log (``admin_audit``): time, client address,
action, target, the answer's code and a detail (never a secret).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dylive.app import usage_report
from dylive.app.quotas import month_start
from dylive.errors import StoreError
from dylive.numbers import ascii_uint
from dylive.store import AuditEntry, TokenNameTaken, TokenRecord

from .errors import (
    ADMIN_DISABLED,
    ADMIN_KEY,
    BAD_PARAM,
    NO_TOKEN,
    RATE_LIMITED,
    STORE,
    ApiError,
    ok,
    truncate,
)
from .params import int_param
from .query import query_of
from .token_plan import QUOTA_FIELDS, PlanError, change_of, describe, plan_of
from .usage_api import iso, now_ms, report_range
from .webhooks_api import _body

if TYPE_CHECKING:
    from .app import HttpService as Service

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]
Action = Callable[[Request, "Service"], Awaitable[tuple[Response, str, str]]]


def key_digest(key: str) -> str:
    """The sha256 hex digest of an admin key (what the service keeps)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _check_key(request: Request, svc: Service) -> None:
    wanted = svc.config.admin_key_digest
    if not wanted:
        raise ApiError(ADMIN_DISABLED, "the service runs without --admin-key")
    auth = request.headers.get("authorization", "")
    given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    # compare digests (fixed length) in constant time, whatever was sent
    if not hmac.compare_digest(key_digest(given), wanted) or not given:
        client = request.client.host if request.client else ""
        svc.limiter.check(("admin", client), svc.config.anon_rate)
        raise ApiError(ADMIN_KEY)


def audited(action: str, run: Action) -> Endpoint:
    """An admin endpoint: the key checked, then ``run`` → (response, target, detail); every
    outcome (refusals for a wrong key too) written to the audit log. Wrong keys are
    rate-limited per client address (``anon_rate``, as requests without a valid token)."""

    async def endpoint(request: Request) -> Response:
        svc: Service = request.app.state.svc
        # a refused change or revocation still names the token it was for, as it was asked
        target, detail = truncate(request.path_params.get("token", ""), 64), ""
        code = 200
        try:
            _check_key(request, svc)
            response, target, detail = await run(request, svc)
            return response
        except ApiError as exc:
            code, detail = exc.kind.code, exc.detail or detail
            raise
        except StoreError:
            code = STORE.code
            raise
        finally:
            # not audited: the admin API is off, or the client address is refused by the rate
            # limit (a flood of bad keys would otherwise write a row per request)
            if code not in (ADMIN_DISABLED.code, RATE_LIMITED.code):
                await _audit(request, svc, action, target, code, detail)

    return endpoint


async def _audit(
    request: Request, svc: Service, action: str, target: str, code: int, detail: str
) -> None:
    client = request.client.host if request.client else ""
    entry = AuditEntry(0, now_ms(), client, action, target, code, truncate(detail, 500))
    try:
        await svc.store.add_audit(entry)
    except StoreError as exc:  # the answer stands; the failure is logged
        log.error("admin audit not written (%s %s %s): %s", action, target, code, exc)


# -- tokens -------------------------------------------------------------------------------------
def token_view(record: TokenRecord, now: int) -> dict[str, Any]:
    status = "revoked" if not record.active else "expired" if record.expired(now) else "active"
    quota = {name: getattr(record.quota, name) for name in QUOTA_FIELDS}
    return {
        "id": record.id,
        "name": record.name,
        "status": status,
        "room_limit": record.room_limit,
        "rate": record.rate,
        "quota": {name: value for name, value in quota.items() if value},
        "created_at": iso(record.created_at),
        "expires_at": iso(record.expires_at) if record.expires_at else None,
        "revoked_at": iso(record.revoked_at) if record.revoked_at else None,
    }


async def create_token(request: Request, svc: Service) -> tuple[Response, str, str]:
    body = await _body(request)
    now = now_ms()
    try:
        plan = plan_of(body, now)
    except PlanError as exc:
        raise _bad_field(exc) from None
    try:
        token_id, secret = await plan.create(svc.store)
    except TokenNameTaken as exc:
        raise ApiError(BAD_PARAM, str(exc), data={"field": "name"}) from None
    record = next(r for r in await svc.store.list_tokens() if r.id == token_id)
    view = token_view(record, now)
    detail = f"room_limit={record.room_limit} rate={plan.rate:g} quota={view['quota']}"
    if plan.expires_at:
        detail += f" expires_at={view['expires_at']}"
    return ok({"token": secret, **view}), f"{token_id}:{plan.name}", detail


async def _usage_now(
    svc: Service, token_ids: list[int], now: int
) -> dict[str, dict[int, tuple[int, int]]]:
    """``{"today"|"month": {token_id: (billable requests, messages)}}``: the stored totals
    (summed by the database) plus this node's counts not flushed yet."""
    out: dict[str, dict[int, tuple[int, int]]] = {}
    for period, since in (("today", now - now % usage_report.DAY_MS), ("month", month_start(now))):
        stored = await svc.store.usage_totals(token_ids, since)
        figures = {}
        for token_id in token_ids:
            billable, messages = stored.get(token_id, (0, 0))
            pending_billable, pending_messages = svc.meter.pending_totals(token_id, since)
            figures[token_id] = (billable + pending_billable, messages + pending_messages)
        out[period] = figures
    return out


async def list_tokens(request: Request, svc: Service) -> tuple[Response, str, str]:
    now = now_ms()
    records = await svc.store.list_tokens()
    usage = await _usage_now(svc, [r.id for r in records], now)
    listed = []
    for record in records:
        view = token_view(record, now)
        view["usage"] = {
            period: dict(zip(("billable", "messages"), figures[record.id], strict=True))
            for period, figures in usage.items()
        }
        listed.append(view)
    return ok({"tokens": listed}), "", f"{len(listed)} tokens"


def _pick(records: list[TokenRecord], ident: str) -> TokenRecord | None:
    """The token ``ident`` names: the one with that id when ``ident`` is ASCII digits and a token
    has it (an id wins over a token *named* with the same digits, whatever the listing's order),
    else the active token of that name, else its newest revoked one; None when none."""
    number = ascii_uint(ident, max_digits=19)
    if number is not None:
        for record in records:
            if record.id == number:
                return record
    named = [r for r in records if r.name == ident]
    active = [r for r in named if r.active]
    return (active or named)[-1] if named else None


async def _find(svc: Service, ident: str) -> TokenRecord:
    """The active token ``ident`` names (:func:`_pick`); ApiError(NO_TOKEN) otherwise, saying
    so when it names a revoked token."""
    record = _pick(await svc.store.list_tokens(), ident)
    if record is None:
        raise ApiError(NO_TOKEN, f"no active token {truncate(ident, 64)!r}")
    if not record.active:
        raise ApiError(NO_TOKEN, f"the token {truncate(ident, 64)!r} is revoked")
    return record


def _bad_field(exc: PlanError) -> ApiError:
    """40005 with the field's name in ``data.field`` (``quota.requests_per_day`` …)."""
    return ApiError(BAD_PARAM, str(exc), data={"field": exc.field})


async def update_token(request: Request, svc: Service) -> tuple[Response, str, str]:
    ident = request.path_params["token"]
    body = await _body(request)
    try:
        change = change_of(body, now_ms())
    except PlanError as exc:
        raise _bad_field(exc) from None
    record = await _find(svc, ident)
    try:
        changed = await svc.store.update_token(record.id, change)
    except TokenNameTaken as exc:
        raise ApiError(BAD_PARAM, str(exc), data={"field": "name"}) from None
    if changed is None:  # revoked since it was found
        raise ApiError(NO_TOKEN, f"the token {record.id} is revoked")
    before, after = changed
    return ok(token_view(after, now_ms())), f"{after.id}:{after.name}", describe(before, after)


async def revoke_token(request: Request, svc: Service) -> tuple[Response, str, str]:
    ident = request.path_params["token"]
    record = await _find(svc, ident)
    if not await svc.store.revoke_token(record.id):
        raise ApiError(NO_TOKEN, f"no active token {truncate(ident, 64)!r}")
    return (
        ok({"id": record.id, "name": record.name, "revoked": True}),
        f"{record.id}:{record.name}",
        "",
    )


async def usage(request: Request, svc: Service) -> tuple[Response, str, str]:
    q = query_of(request)
    start, end, granularity = report_range(q, now_ms())
    records = await svc.store.list_tokens()
    wanted = q.get("token")
    token_id = None
    if wanted:
        found = _pick(records, wanted)
        if found is None:
            raise ApiError(NO_TOKEN, f"no token {truncate(wanted, 64)!r}")
        token_id = found.id
    names = {r.id: r.name for r in records}
    reports = await usage_report.build(
        svc.store, names, start, end, granularity, token_id=token_id, meter=svc.meter
    )
    data = {"granularity": granularity, "from": iso(start), "to": iso(end), "tokens": reports}
    return ok(data), wanted or "", f"{granularity} {iso(start)}..{iso(end)}"


async def audit(request: Request, svc: Service) -> tuple[Response, str, str]:
    q = query_of(request)
    limit = int_param(q, "limit", 100, 1, 1000)
    before = int_param(q, "before", 0, 0, 2**62)
    entries = await svc.store.audit(limit, before)
    listed = [
        {
            "id": e.id,
            "at": iso(e.at),
            "actor": e.actor,
            "action": e.action,
            "target": e.target,
            "code": e.code,
            "detail": e.detail,
        }
        for e in entries
    ]
    return ok({"entries": listed}), "", f"{len(listed)} entries"


def routes(guard: Callable[[str, Endpoint], Endpoint]) -> list[Route]:
    def route(path: str, name: str, action: str, run: Action, method: str) -> Route:
        return Route(path, guard(name, audited(action, run)), methods=[method])

    return [
        route("/api/admin/tokens", "admin_tokens", "tokens.create", create_token, "POST"),
        route("/api/admin/tokens", "admin_tokens", "tokens.list", list_tokens, "GET"),
        route("/api/admin/tokens/{token}", "admin_tokens", "tokens.update", update_token, "PATCH"),
        route("/api/admin/tokens/{token}", "admin_tokens", "tokens.revoke", revoke_token, "DELETE"),
        route("/api/admin/usage", "admin_usage", "usage.read", usage, "GET"),
        route("/api/admin/audit", "admin_audit", "audit.read", audit, "GET"),
    ]


__all__ = ["key_digest", "routes"]
