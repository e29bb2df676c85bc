"""The composition root: :class:`Service` builds and runs every part of ``dylive serve``.

Parts: the store; the identity pool; collection (:class:`dylive.collect.RoomManager`, one
ingestion pipeline per room); the commit fan-out (:class:`~dylive.app.commits.Commits`) and what
subscribes to it — the live hub (SSE, WebSocket feeds), analytics (sessions, reports), webhooks;
the audience ranking; the fleet node (PostgreSQL); the NATS publisher (``--sink``); retention.
:meth:`Service.start` / :meth:`Service.stop` run them in order.

Nothing here knows HTTP: :mod:`dylive.serve` builds the routes over a service, and attaches its
own parts (request metrics, rate limiter) through :attr:`Service.commits` and
:attr:`Service.ingest_events`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dylive.analytics import Analytics, AudienceService, GiftCatalogue
from dylive.collect import Budget, RoomManager, default_resolver
from dylive.collect.broadcasts import ChainCache
from dylive.errors import DyliveError, StoreError
from dylive.identity.pool import DEFAULT, IdentityPool
from dylive.identity.source import pool_source
from dylive.source.collector import CollectorOptions
from dylive.source.credentials import Identity
from dylive.source.follow import FollowSchedule
from dylive.source.ranklist import fetch_audience_ranklist
from dylive.source.room import RoomInfo, make_client
from dylive.store import EventStore, is_postgres_url, open_store

from . import delivery
from .commits import Commit, Commits, IngestEvents
from .config import ServiceConfig
from .hub import StreamHub
from .retention import Retention, run_retention

if TYPE_CHECKING:
    from dylive.deliver.nats import NatsPublisher
    from dylive.fleet import FleetNode

log = logging.getLogger(__name__)


class Service:
    """The running service (see the module docstring)."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.store: EventStore = config.store or open_store(config.db)
        self.started_ms = time.time_ns() // 1_000_000
        # one upstream identity (cookie, User-Agent, proxy) for resolution, collectors, ranklist
        identity = Identity.build(
            cookie=config.cookie, user_agent=config.user_agent, proxy=config.proxy
        )
        self.http = make_client(identity)
        #: "a batch was committed": the one notion every consumer of new rows subscribes to
        self.commits = Commits(self.store)
        #: ingestion's reports (retries, quarantine, restarts, gaps, fenced writes)
        self.ingest_events = IngestEvents(self.commits)
        self.stream = StreamHub(self.store)  # live fan-out (SSE, WebSocket feeds)
        #: a followed anchor's broadcasts, oldest first (chat with room_id=<web_rid>)
        self.chains = ChainCache()
        self.identities = IdentityPool(self.store, fallback=identity, options=config.pool)
        #: events read and not stored yet, across every room (``overloaded`` when it binds)
        self.budget: Budget = config.ingest.budget or Budget(config.pending_limit)
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
            tuning=replace(config.ingest, budget=self.budget),
            hooks=self.ingest_events,
            follow=FollowSchedule(interval=config.follow_interval, ceiling=config.follow_ceiling),
            pace=self._pace_check,
        )
        fetcher = self._fetch_ranklist if config.ranklist else None
        self.audience = AudienceService(self.store, fetcher)
        self.catalogue = GiftCatalogue(
            self.http, config.upstream, user_agent=config.user_agent, cookie=config.cookie
        )
        self.analytics = Analytics(
            self.store, catalogue=self.catalogue, status=self._collection_status
        )
        self._pruner: asyncio.Task[None] | None = None
        self._lag: asyncio.Task[None] | None = None  # the budget's loop-lag watch
        self.webhooks, self.feeds = delivery.attach(self)
        self.rooms.on_live_status = self.webhooks.live_status  # opt-in webhook event type
        self.fleet: FleetNode | None = None
        self.publisher: NatsPublisher | None = None
        if config.fleet or (config.fleet is None and is_postgres_url(config.db)):
            self.fleet = self._fleet_node(config)
        if config.sink:
            self.publisher = self._publisher(config.sink)
        self.commits.subscribe(self._committed)
        self.ingest_events.subscribe(self)  # on_fenced

    async def _pace_check(self) -> None:
        """A followed room's status check goes through the pool's pacing of the service's own
        identity (when that identity is paced: ``PoolOptions.pace_default``)."""
        pool = self.identities
        if pool.options.pace_default:
            await pool.pacer.take(DEFAULT, pool.fallback.proxy or "")

    def _committed(self, commit: Commit) -> None:
        """Wake the live hub (every commit); analytics, webhooks and the NATS publisher for
        new rows stored here."""
        self.stream.notify(commit.room_id, commit.inserted)
        if commit.local and commit.inserted:
            self.analytics.notify(commit.room_id)
            self.webhooks.notify(commit.room_id)
            if self.publisher is not None:
                self.publisher.notify(commit.room_id)

    def on_fenced(self, room_id: int) -> None:
        """A write of a room was refused (its lease is lost): counted for the fleet view."""
        self.rooms.fenced_writes += 1

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

    async def start(self) -> None:
        await self.store.open()
        if self.config.lag_limit > 0:
            watch = self.budget.watch(self.config.lag_limit)
            self._lag = asyncio.create_task(watch, name="dylive-loop-lag")
        if self.fleet is not None:
            await self.fleet.start()
            self.rooms.fleet = self.fleet
        # pinned rooms are resolved and started in the background (the port opens at once)
        await self.rooms.start(self.config.pins, background=True)
        await self.webhooks.start()
        if self.publisher is not None:
            await self.publisher.start()  # returns at once; connects in the background
        policy = self.retention
        if policy:
            loop = run_retention(self.store, policy, self.config.retention_interval)
            self._pruner = asyncio.create_task(loop, name="dylive-retention")

    def _publisher(self, url: str) -> NatsPublisher:
        """Publishes stored messages to JetStream: this node's rooms in a fleet, else all. A bad
        URL or a missing nats-py is a one-line error here, before anything starts."""
        try:
            from dylive.deliver.nats import NatsPublisher  # needs nats-py (the nats extra)
        except ImportError as exc:
            raise DyliveError(
                f"the NATS sink (--sink) needs nats-py: pip install 'dylive[nats]' "
                f"(import failed: {exc})"
            ) from None
        fleet = self.fleet
        rooms = (lambda: fleet.held.keys()) if fleet is not None else None
        return NatsPublisher(self.store, url, rooms=rooms)

    def problems(self) -> list[str]:
        """What keeps the service from doing all its work (``/healthz`` shows them): rooms whose
        storage or source is failing, reading upstream paused because too much is pending
        (``overloaded``: see :mod:`dylive.collect.budget`), a NATS sink that is not connected."""
        reasons = [r for state in self.rooms.rooms.values() for r in state.problems()]
        if overload := self.budget.problem():
            reasons.insert(0, overload)
        if self.publisher is not None:
            reasons += self.publisher.problems()
        return reasons

    @property
    def retention(self) -> Retention:
        """How long stored messages, usage counters and audit entries are kept."""
        c = self.config
        return Retention(c.retention_hours, c.usage_retention_days, c.audit_retention_days)

    async def stop(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
        if self._lag is not None:
            self._lag.cancel()
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
