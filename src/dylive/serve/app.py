"""The ASGI app factory: ``create_app(config)`` → Starlette app (store, rooms, routes, handlers).

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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from dylive import settings
from dylive.analytics import Analytics, GiftCatalogue
from dylive.collect import Resolver, RoomManager, SourceFactory, Tuning, default_resolver
from dylive.deliver.feed import FeedSettings
from dylive.deliver.webhooks import WebhookSettings
from dylive.errors import StoreError
from dylive.identity.pool import IdentityPool, PoolOptions
from dylive.identity.source import pool_source
from dylive.source.collector import CollectorOptions
from dylive.source.identity import Identity
from dylive.source.ranklist import fetch_audience_ranklist
from dylive.source.room import RoomInfo, make_client
from dylive.store import EventStore, TokenRecord, is_postgres_url, open_store

from . import (
    api,
    compat,
    dashboard,
    delivery,
    feed_api,
    fleet_api,
    sessions,
    stream,
    tokens,
    webhooks_api,
)
from .audience import AudienceService
from .errors import (
    INTERNAL,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    STORE,
    ApiError,
    ErrorKind,
    error_response,
)
from .limits import HeaderLimit, oversized
from .metrics import Metrics
from .query import query_of
from .ratelimit import RateLimiter

if TYPE_CHECKING:
    from dylive.deliver.nats import NatsPublisher
    from dylive.fleet import FleetNode

log = logging.getLogger(__name__)


@dataclass
class ServiceConfig:
    """Everything ``dylive serve`` can set (CLI options / DYLIVE_* settings)."""

    db: str = "dylive.sqlite3"
    upstream: str = "https://live.douyin.com"
    user_agent: str = settings.DEFAULT_USER_AGENT
    cookie: str = ""
    proxy: str = ""  # HTTP or SOCKS proxy for every upstream request ("" = direct)
    signing: str = "v2"
    pins: list[str] = field(default_factory=list)
    idle_timeout: float = 300.0
    retention_hours: float = 0.0  # 0 = keep forever
    page_size: int = 50
    max_page: int = 500
    max_wait: float = 30.0
    fetch_interval: int = 1000
    ranklist: bool = True
    # msg_ids each collector remembers (~100 bytes each): the store dedupes exactly by
    # (room_id, msg_id), so the collector's window only needs to cover reconnect replays
    dedupe_capacity: int = 10_000
    #: Identity pool tunables (max rooms per identity, cooldowns, guests, pacing).
    pool: PoolOptions = field(default_factory=PoolOptions)
    resolver: Resolver | None = None
    source_factory: SourceFactory | None = None
    store: EventStore | None = None
    ingest: Tuning = field(default_factory=Tuning)
    webhook_settings: WebhookSettings = field(default_factory=WebhookSettings)
    feed_settings: FeedSettings = field(default_factory=FeedSettings)
    douyinlive_token: str = ""  # token name used by /ws/{live_id} clients that send none
    # requests/s per client address without a valid token (0 = off); `dylive serve` takes
    # DYLIVE_ANON_RATE (5) through from_settings
    anon_rate: float = 0.0
    # fleet (PostgreSQL only): None = on for a postgresql:// database, off for SQLite
    fleet: bool | None = None
    node_id: str = ""  # default: host name + pid
    max_rooms: int = 500  # rooms this node collects at most
    lease_ttl: float = 10.0
    fleet_tick: float = 1.0
    sink: str = ""  # nats://host:port[?stream=NAME&prefix=P]: publish every stored message

    @classmethod
    def from_settings(cls, **overrides: Any) -> ServiceConfig:
        base = cls(
            db=settings.get("db"),
            upstream=settings.get("upstream"),
            user_agent=settings.get("user_agent"),
            cookie=settings.get("cookie"),
            proxy=settings.get("proxy"),
            signing=settings.get("signing"),
            idle_timeout=settings.number("idle_timeout", overrides.get("idle_timeout")),
            retention_hours=settings.number("retention_hours", overrides.get("retention_hours")),
            anon_rate=settings.number("anon_rate"),
            pool=PoolOptions(
                max_rooms=max(1, int(settings.number("identity_max_rooms"))),
                allow_guests=settings.get("allow_guests").strip().lower() in ("1", "true", "yes"),
            ),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(base, key, value)
        return base


class Service:
    """The running service: store, room manager, audience, limiter, metrics."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.store: EventStore = config.store or open_store(config.db)
        self.metrics = Metrics()
        self.limiter = RateLimiter()
        self.started_ms = time.time_ns() // 1_000_000
        # one upstream identity (cookie, User-Agent, proxy) for resolution, collectors, ranklist
        identity = Identity.build(
            cookie=config.cookie, user_agent=config.user_agent, proxy=config.proxy
        )
        self.http = make_client(identity)
        self.stream = stream.StreamHub(self.store)  # live fan-out (SSE); fed by _stored
        self.identities = IdentityPool(
            self.store,
            fallback=identity,
            options=config.pool,
        )
        self.rooms = RoomManager(
            self.store,
            resolver=config.resolver
            or default_resolver(
                upstream=config.upstream, signing=config.signing, identity=identity
            ),
            source_factory=config.source_factory
            or pool_source(
                self.identities,
                upstream=config.upstream,
                options=CollectorOptions(
                    signing=config.signing, dedupe_capacity=config.dedupe_capacity, direct=True
                ),
            ),
            idle_timeout=config.idle_timeout,
            tuning=config.ingest,
            hooks=_Hooks(self),
        )
        fetcher = self._fetch_ranklist if config.ranklist else None
        self.audience = AudienceService(self.store, fetcher)
        self.catalogue = GiftCatalogue(
            self.http, config.upstream, user_agent=config.user_agent, cookie=config.cookie
        )
        self.analytics = Analytics(
            self.store, catalogue=self.catalogue, status=self._collection_status
        )
        self._pruner: Any = None
        self.webhooks, self.feeds = delivery.attach(self)
        self._position_locks: weakref.WeakValueDictionary[tuple[int, int], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self.fleet: FleetNode | None = None
        self.publisher: NatsPublisher | None = None
        if config.fleet or (config.fleet is None and is_postgres_url(config.db)):
            self.fleet = self._fleet_node(config)
        self.store.on_commit(self.stream.notify)  # rows committed by other nodes

    def position_lock(self, token_id: int, room_id: int) -> asyncio.Lock:
        """The lock serializing cursor-less reads of one (token, room): read the position,
        read the page, commit the new position, as one step (exactly once under concurrency)."""
        key = (token_id, room_id)
        lock = self._position_locks.get(key)
        if lock is None:
            lock = self._position_locks[key] = asyncio.Lock()
        return lock

    def _fleet_node(self, config: ServiceConfig) -> FleetNode:
        from dylive.fleet import FleetNode, FleetOptions  # needs psycopg (the postgres extra)

        if config.store is not None and not is_postgres_url(getattr(config.store, "url", "")):
            raise StoreError("the fleet needs a PostgreSQL database")
        if not is_postgres_url(getattr(self.store, "url", "")):
            raise StoreError("the fleet needs a PostgreSQL database (--db postgresql://…)")
        options = FleetOptions(
            node_id=config.node_id,
            max_rooms=config.max_rooms,
            lease_ttl=config.lease_ttl,
            node_timeout=config.lease_ttl,
            tick=config.fleet_tick,
        )
        return FleetNode(str(getattr(self.store, "url", "")), self.rooms, options)

    def set_address(self, url: str) -> None:
        """The URL this node answers on (after binding), shown in ``/api/fleet``."""
        if self.fleet is not None and not self.fleet.options.address:
            self.fleet.options.address = url

    def _stored(self, room_id: int, inserted: int) -> None:
        """After each stored batch: metrics, and wake the live stream (never blocks ingest)."""
        self.metrics.on_stored(room_id, inserted)
        self.stream.notify(room_id, inserted)
        if inserted:
            self.analytics.notify(room_id)
            self.webhooks.notify(room_id)

    def _collection_status(self, room_id: int) -> dict[str, Any] | None:
        """Collection figures of a room being collected (for running session reports)."""
        state = self.rooms.rooms.get(room_id)
        if state is None:
            return None
        status = state.status()
        keys = ("lag_seconds", "gaps", "received", "stored", "messages_per_second")
        return {key: status[key] for key in keys}

    async def _fetch_ranklist(self, info: RoomInfo) -> dict[str, Any]:
        return await fetch_audience_ranklist(
            self.http,
            upstream=self.config.upstream,
            room_id=info.room_id,
            anchor_id=info.anchor_uid,
            sec_anchor_id=info.anchor_sec_uid,
            web_rid=info.web_rid,
            user_agent=self.config.user_agent,
            cookie=info.cookie or self.config.cookie,
            signing=self.config.signing,
        )

    async def authorize(self, request: Request) -> TokenRecord:
        """Authenticate (query ``token`` or ``Authorization: Bearer``) and rate-limit."""
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
        self.limiter.check(record.id, record.rate)
        return record

    async def start(self) -> None:
        await self.store.open()
        if self.fleet is not None:
            await self.fleet.start()
            self.rooms.fleet = self.fleet
        await self.rooms.start(self.config.pins)
        await self.webhooks.start()
        if self.config.sink:
            await self._start_sink(self.config.sink)
        if self.config.retention_hours > 0:
            import asyncio

            self._pruner = asyncio.create_task(self._prune_loop())

    async def _start_sink(self, url: str) -> None:
        """Publish stored messages to JetStream: this node's rooms in a fleet, else all."""
        from dylive.deliver.nats import NatsPublisher  # needs nats-py (the nats extra)

        fleet = self.fleet
        rooms = (lambda: fleet.held.keys()) if fleet is not None else None
        self.publisher = NatsPublisher(self.store, url, rooms=rooms)
        await self.publisher.start()

    async def _prune_loop(self) -> None:
        import asyncio

        while True:
            cutoff = time.time_ns() // 1_000_000 - int(self.config.retention_hours * 3_600_000)
            try:
                deleted = await self.store.prune(cutoff)
                if deleted:
                    log.info("retention: deleted %s messages", deleted)
            except StoreError as exc:
                log.warning("retention: %s", exc)
            await asyncio.sleep(600)

    async def stop(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
        await self.webhooks.stop()
        await self.stream.close()
        if self.fleet is not None:
            await self.fleet.stop()  # hands every room off before the collectors stop
        await self.rooms.stop()
        if self.publisher is not None:
            await self.publisher.stop()
        await self.analytics.close()
        await self.http.aclose()
        await self.store.close()


class _Hooks:
    """Ingestion reports → metrics; a stored batch also wakes the live stream."""

    def __init__(self, svc: Service) -> None:
        self._svc = svc

    def on_stored(self, room_id: int, inserted: int) -> None:
        self._svc._stored(room_id, inserted)

    def on_retry(self, room_id: int) -> None:
        self._svc.metrics.on_retry(room_id)

    def on_quarantined(self, room_id: int) -> None:
        self._svc.metrics.on_quarantined(room_id)

    def on_restart(self, room_id: int) -> None:
        self._svc.metrics.on_restart(room_id)

    def on_gap(self, room_id: int, missed: int) -> None:
        self._svc.metrics.on_gap(room_id, missed)

    def on_fenced(self, room_id: int) -> None:
        self._svc.rooms.fenced_writes += 1
        self._svc.metrics.fenced.inc()


def _kind_for_status(status: int) -> ErrorKind:
    if status == 404:
        return NOT_FOUND
    if status == 405:
        return METHOD_NOT_ALLOWED
    return ErrorKind(40000 + status if status < 500 else 50000, status, NOT_FOUND.msg)


Endpoint = Callable[[Request], Awaitable[Response]]


def guarded(name: str, endpoint: Endpoint) -> Endpoint:
    """Wrap an endpoint: ApiError → its envelope, StoreError → 50301, anything else → 50000
    (logged); count and time every request in the metrics."""

    async def handler(request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await endpoint(request)
            code = "200"
        except ApiError as exc:
            response, code = error_response(exc), str(exc.kind.code)
        except StoreError as exc:
            log.error("store failure on %s: %s", request.url.path, exc)
            response, code = error_response(ApiError(STORE)), str(STORE.code)
        except Exception as exc:
            log.error("unexpected error on %s: %r", request.url.path, exc, exc_info=exc)
            response, code = error_response(ApiError(INTERNAL)), str(INTERNAL.code)
        metrics: Metrics = request.app.state.svc.metrics
        metrics.on_request(name, code, time.perf_counter() - started)
        return response

    return handler


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
    which serves ``HEAD`` and any other method). The endpoints are :func:`guarded`: every
    exception becomes the envelope there; the header size limit is checked as
    :class:`~dylive.serve.limits.HeaderLimit` does for the rest."""

    def __init__(self, *, direct: dict[str, Endpoint], **options: Any) -> None:
        super().__init__(**options)
        self.direct = direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            endpoint = self.direct.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self
                response = oversized(scope) or await endpoint(Request(scope, receive))
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(config: ServiceConfig) -> Starlette:
    """The API app; the service starts and stops with the ASGI lifespan."""
    svc = Service(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await svc.start()
        try:
            yield
        finally:
            await svc.stop()

    chat = guarded("chat", compat.chat)
    routes = [
        Route("/douyin/liveroom/chat", chat, methods=["GET"]),
        Route("/douyin/liveroom/audience", guarded("audience", compat.audience), methods=["GET"]),
        Route("/metrics", svc.metrics.endpoint, methods=["GET"]),
        *api.routes(guarded),
        *fleet_api.routes(guarded),
        *sessions.routes(guarded),
        *stream.routes(guarded),
        *webhooks_api.routes(guarded),
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
