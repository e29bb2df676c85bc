"""The ASGI app factory: ``create_app(config)`` → Starlette app over an :class:`HttpService`
(the service of :mod:`dylive.app` plus the HTTP face's metrics, rate limiter and position locks).
``ServiceConfig`` is :class:`dylive.app.ServiceConfig`, importable from here too.

Every response is the envelope of :mod:`dylive.serve.errors`; an unexpected exception is logged
and answered with code 50000, never a stack trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from dylive.app import Commit, Service, ServiceConfig
from dylive.app.quotas import Quotas
from dylive.app.usage import Meter
from dylive.errors import StoreError
from dylive.store import TokenRecord

from . import (
    admin_api,
    api,
    compat,
    dashboard,
    feed_api,
    fleet_api,
    sessions,
    stream,
    tokens,
    usage_api,
    webhooks_api,
)
from .delivery_metrics import DeliveryCollector
from .errors import (
    INTERNAL,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    QUOTA_EXCEEDED,
    STORE,
    ApiError,
    ErrorKind,
    error_response,
)
from .limits import HeaderLimit, oversized
from .metrics import Metrics
from .query import query_of
from .ratelimit import RateLimiter
from .usage_metrics import UsageCollector

__all__ = ["App", "HttpService", "Service", "ServiceConfig", "create_app", "guarded"]

log = logging.getLogger(__name__)


class HttpService(Service):
    """The service with the HTTP face's own parts: request metrics (fed by the service's commit
    and ingestion fan-outs), the rate limiter, the per-(token, room) position locks, usage
    metering and the quota book (:mod:`dylive.app.usage`, :mod:`dylive.app.quotas`)."""

    def __init__(self, config: ServiceConfig) -> None:
        super().__init__(config)
        self.metrics = Metrics()
        self.limiter = RateLimiter()
        self.meter = Meter(self.store, interval=config.usage_flush, enabled=config.metering)
        self.quotas = Quotas(self.store, self.meter)
        self.meter.after_flush.append(self.quotas.refresh)
        self.meter.before_flush.append(self._webhook_usage)
        self.webhooks.halted = self._webhook_halted
        self._hook_delivered: dict[int, tuple[int, int]] = {}  # hook id -> (outbox id, count)
        #: chat queries but for their cursor -> (their other parameters, the parsed room,
        #: count, wait, methods): serve/compat.py's ``_query``
        self.chat_queries: dict[bytes, tuple[dict[str, str], Any]] = {}
        self._position_locks: weakref.WeakValueDictionary[tuple[int, int], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self.commits.subscribe(self._count)
        self.ingest_events.subscribe(self.metrics)
        self.metrics.registry.register(DeliveryCollector(self))
        self.metrics.registry.register(UsageCollector(self.meter))

    async def start(self) -> None:
        await super().start()
        self.meter.start()

    async def stop(self) -> None:
        await self.meter.stop()  # the last counts, while the store is open
        await super().stop()

    def _webhook_usage(self) -> None:
        """Messages the webhooks delivered since the last look, metered for their tokens."""
        for hook_id, run in list(self.webhooks.running.items()):
            delivered = run.outbox.stats.delivered
            outbox, before = self._hook_delivered.get(hook_id, (id(run.outbox), 0))
            if outbox != id(run.outbox) or delivered < before:  # relaunched: counts from 0
                before = 0
            self._hook_delivered[hook_id] = (id(run.outbox), delivered)
            self.meter.deliver(run.hook.token_id, "webhook", delivered - before)

    async def _webhook_halted(self, token: TokenRecord) -> str | None:
        """Why ``token``'s webhooks deliver nothing now: a used-up message quota (the webhooks
        service pauses them until it resets or is raised), or None."""
        try:
            await self.check_quota(token, messages_only=True)
        except ApiError as exc:
            reset = (exc.data or {}).get("reset_at", "")
            return f"message quota used up: {exc.detail} (resets {reset})"
        return None

    def _count(self, commit: Commit) -> None:
        if commit.local:
            self.metrics.on_stored(commit.room_id, commit.inserted)

    def position_lock(self, token_id: int, room_id: int) -> asyncio.Lock:
        """The lock serializing cursor-less reads of one (token, room): read the position,
        read the page, commit the new position, as one step (exactly once under concurrency)."""
        key = (token_id, room_id)
        lock = self._position_locks.get(key)
        if lock is None:
            lock = self._position_locks[key] = asyncio.Lock()
        return lock

    async def authorize(self, request: Request, *, quota: bool = True) -> TokenRecord:
        """Authenticate (query ``token`` or ``Authorization: Bearer``), rate-limit and check
        the token's quotas (unless ``quota`` is False: a token over its quota may still read
        its usage); the answer is metered for the token (see :func:`guarded`)."""
        token = query_of(request).get("token")
        if not token:
            auth = request.headers.get("authorization", "")
            if auth.lower().startswith("bearer "):
                token = auth[7:].strip()
        try:
            record = await tokens.authenticate(self.store, token)
        except ApiError:  # no valid token: limited per client address
            client = request.client.host if request.client else ""
            self.limiter.check(("anon", client), self.config.anon_rate)
            raise
        request.scope["dylive.token"] = record
        self.limiter.check(record.id, record.rate)
        if quota and record.quota:
            await self.check_quota(record)
        return record

    async def check_quota(self, record: TokenRecord, *, messages_only: bool = False) -> None:
        """ApiError QUOTA_EXCEEDED (with the quota, its limit, the use and the reset) when a
        quota of the token is used up (``messages_only``: a message quota)."""
        refusal = await self.quotas.check(record, messages_only=messages_only)
        if refusal is not None:
            reset = refusal.reset_ms / 1000
            raise ApiError(
                QUOTA_EXCEEDED,
                f"{refusal.quota} of {refusal.limit} used up",
                retry_after=max(0.0, reset - self.meter.clock()),
                data={
                    "quota": refusal.quota,
                    "limit": refusal.limit,
                    "used": refusal.used,
                    "reset": int(reset),
                    "reset_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(reset)),
                },
            )


def _kind_for_status(status: int) -> ErrorKind:
    if status == 404:
        return NOT_FOUND
    if status == 405:
        return METHOD_NOT_ALLOWED
    return ErrorKind(40000 + status if status < 500 else 50000, status, NOT_FOUND.msg)


Endpoint = Callable[[Request], Awaitable[Response]]


def guarded(name: str, endpoint: Endpoint, svc: HttpService | None = None) -> Endpoint:
    """Wrap an endpoint: ApiError → its envelope, StoreError → 50301, anything else → 50000
    (logged); count and time every request in the metrics; meter the answer for the token the
    request authorized as (endpoint ``name``, its code, the messages the endpoint delivered
    (``scope["dylive.messages"]``) and the body's bytes), with the ``X-RateLimit-*`` headers
    of a token with a request quota. ``svc``: the service (else the app state's, per request)."""

    async def handler(request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await endpoint(request)
            code = 200
        except ApiError as exc:
            response, code = error_response(exc), exc.kind.code
        except StoreError as exc:
            log.error("store failure on %s: %s", request.url.path, exc)
            response, code = error_response(ApiError(STORE)), STORE.code
        except Exception as exc:
            log.error("unexpected error on %s: %r", request.url.path, exc, exc_info=exc)
            response, code = error_response(ApiError(INTERNAL)), INTERNAL.code
        service: HttpService = svc if svc is not None else request.app.state.svc
        scope = request.scope
        token: TokenRecord | None = scope.get("dylive.token")
        if token is not None:
            meter = service.meter
            if meter.names.get(token.id) != token.name:  # new, or renamed since
                meter.names[token.id] = token.name
            body = getattr(response, "body", b"")
            meter.count(token.id, name, code, scope.get("dylive.messages", 0), len(body))
            if token.quota:
                rate_headers(service, token, response)
        service.metrics.on_request(name, str(code), time.perf_counter() - started)
        return response

    return handler


def rate_headers(svc: HttpService, token: TokenRecord, response: Response) -> None:
    """``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` (epoch seconds) of the token's
    tightest request quota, after this request."""
    standing = svc.quotas.standing(token)
    if standing is not None:
        response.raw_headers += [
            (b"x-ratelimit-limit", str(standing.limit).encode()),
            (b"x-ratelimit-remaining", str(standing.remaining).encode()),
            (b"x-ratelimit-reset", str(standing.reset_ms // 1000).encode()),
        ]


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (404, 405 …) in our envelope, their headers (``Allow``) kept."""
    assert isinstance(exc, HTTPException)
    return error_response(ApiError(_kind_for_status(exc.status_code)), dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s: %r", request.url.path, exc, exc_info=exc)
    return error_response(ApiError(INTERNAL))


class App(Starlette):
    """The Starlette app, plus direct routes: a ``GET`` of one of the ``direct`` paths (the
    endpoints clients poll many times a second) goes straight to its endpoint instead of
    through Starlette's middleware stack and router (the same endpoint is also routed as usual,
    which serves ``HEAD`` and any other method), and its response goes out through the edge's
    ``dylive.respond`` when the scope has it (:class:`~dylive.serve.edge.Responder`: one write,
    no ASGI messages). The endpoints are :func:`guarded`: every exception becomes the envelope
    there; the header size limit is checked as :class:`~dylive.serve.limits.HeaderLimit` does
    for the rest."""

    def __init__(self, *, direct: dict[str, Endpoint], **options: Any) -> None:
        super().__init__(**options)
        self.direct = direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # the edge's whole-response write, taken out of the scope: it holds the request's
        # response cycle, which holds the scope, so left there it makes every request a
        # reference cycle for the garbage collector (two thirds of what its young collections
        # freed in dylive serve); taken out, a request's objects go when it is done
        respond = scope.pop("dylive.respond", None)
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            endpoint = self.direct.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self
                response = oversized(scope) or await endpoint(Request(scope, receive))
                if (
                    respond is None
                    or response.background is not None
                    or not respond(response.status_code, response.raw_headers, response.body)
                ):
                    await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(config: ServiceConfig) -> Starlette:
    """The API app; the service starts and stops with the ASGI lifespan."""
    svc = HttpService(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await svc.start()
        try:
            yield
        finally:
            await svc.stop()

    def guard(name: str, endpoint: Endpoint) -> Endpoint:
        return guarded(name, endpoint, svc)

    chat = guard("chat", partial(compat.chat, svc=svc))
    routes = [
        Route("/douyin/liveroom/chat", chat, methods=["GET"]),
        Route("/douyin/liveroom/audience", guard("audience", compat.audience), methods=["GET"]),
        Route("/metrics", svc.metrics.endpoint, methods=["GET"]),
        *api.routes(guard),
        *fleet_api.routes(guard),
        *sessions.routes(guard),
        *stream.routes(guard),
        *webhooks_api.routes(guard),
        *usage_api.routes(guard),
        *admin_api.routes(guard),
        *feed_api.routes(),
        *dashboard.routes(),
    ]
    app = App(
        direct={"/douyin/liveroom/chat": chat},
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(HeaderLimit)],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
    )
    app.state.svc = svc
    return app
