"""Prometheus metrics (one registry per app, so several apps can live in one process)."""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from dylive.collect import BudgetSnapshot
from dylive.identity.source import REASONS

#: The request latency histogram's upper bounds (prometheus_client's defaults, +Inf last).
LATENCY_BUCKETS = tuple(Histogram.DEFAULT_BUCKETS)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "dylive_http_requests",
            "API requests by endpoint and envelope code",
            ["endpoint", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dylive_http_request_seconds",
            "API request latency by endpoint",
            ["endpoint"],
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )
        self.delivered = Counter(
            "dylive_messages_delivered",
            "Messages returned by the chat endpoint",
            registry=self.registry,
        )
        self.stored = Counter(
            "dylive_messages_stored",
            "Messages newly stored (duplicates excluded)",
            registry=self.registry,
        )
        self.store_retries = Counter(
            "dylive_store_retries",
            "Store operations of the ingestion that failed transiently and were retried",
            registry=self.registry,
        )
        self.quarantined = Counter(
            "dylive_messages_quarantined",
            "Poison messages kept aside in the quarantine table",
            registry=self.registry,
        )
        self.restarts = Counter(
            "dylive_ingest_restarts",
            "Room ingestion pipelines restarted after an unexpected exception",
            registry=self.registry,
        )
        self.gaps = Counter(
            "dylive_gaps",
            "Resumes upstream could not honour (messages lost upstream)",
            registry=self.registry,
        )
        self.gap_missed = Counter(
            "dylive_gap_messages_missed",
            "Messages known to be lost in gaps",
            registry=self.registry,
        )
        self.fenced = Counter(
            "dylive_fenced_writes",
            "Batches the store refused because this node no longer held the room's lease",
            registry=self.registry,
        )
        self.rooms = Gauge(
            "dylive_rooms_collecting", "Rooms currently collected", registry=self.registry
        )
        self.degraded = Gauge(
            "dylive_rooms_degraded",
            "Collected rooms missing data, by reason (gifts_hidden, heartbeat_only, refused, …)",
            ["reason"],
            registry=self.registry,
        )
        self.pending = Gauge(
            "dylive_ingest_pending",
            "Messages read upstream and not stored yet, across all rooms",
            registry=self.registry,
        )
        self.pending_limit = Gauge(
            "dylive_ingest_pending_limit",
            "The bound on dylive_ingest_pending (DYLIVE_PENDING_LIMIT; 0 = none)",
            registry=self.registry,
        )
        self.overloaded = Gauge(
            "dylive_overloaded",
            "1 while upstream reading is paused because the pending bound is reached",
            registry=self.registry,
        )
        self.paused = Gauge(
            "dylive_rooms_reading_paused",
            "Rooms whose upstream reading waits for the pending bound now",
            registry=self.registry,
        )
        self.overload_waits = Counter(
            "dylive_overload_waits",
            "Times a room's reader waited for the pending bound",
            registry=self.registry,
        )
        self._waits = 0  # the budget's wait count already exported
        self.followed = Gauge(
            "dylive_rooms_followed",
            "Followed rooms by state (live: collecting a broadcast; waiting: for the next one; "
            "ended: no longer followed)",
            ["state"],
            registry=self.registry,
        )

        # per request, counts are plain numbers until a scrape (flush): a prometheus counter
        # takes a lock per increment, a histogram observation ~1 us (a Python scan of buckets)
        self._request_counts: dict[tuple[str, str], int] = {}
        self._delivered = 0
        self._latencies: dict[str, list[float]] = {}  # per bucket, then the sum

    def on_request(self, endpoint: str, code: str, seconds: float) -> None:
        """Count one API request by endpoint and envelope code and time it."""
        counts = self._request_counts
        counts[endpoint, code] = counts.get((endpoint, code), 0) + 1
        latency = self._latencies.get(endpoint)
        if latency is None:
            latency = self._latencies[endpoint] = [0.0] * (len(LATENCY_BUCKETS) + 1)
        latency[bisect_left(LATENCY_BUCKETS, seconds)] += 1  # the first bound >= seconds
        latency[-1] += seconds

    def on_delivered(self, count: int) -> None:
        """Messages returned by the chat endpoint."""
        self._delivered += count

    def flush(self) -> None:
        """Add the counts kept since the last flush to the exported counters."""
        counts, self._request_counts = self._request_counts, {}
        for (endpoint, code), n in counts.items():
            self.requests.labels(endpoint, code).inc(n)
        delivered, self._delivered = self._delivered, 0
        if delivered:
            self.delivered.inc(delivered)
        latencies, self._latencies = self._latencies, {}
        for endpoint, latency in latencies.items():
            # what Histogram.observe does per observation: its bucket (non-cumulative) and sum
            child: Any = self.latency.labels(endpoint)
            for bucket, observed in zip(child._buckets, latency, strict=False):
                if observed:
                    bucket.inc(observed)
            child._sum.inc(latency[-1])

    def on_stored(self, room_id: int, count: int) -> None:
        self.stored.inc(count)

    def on_retry(self, room_id: int) -> None:
        self.store_retries.inc()

    def on_quarantined(self, room_id: int) -> None:
        self.quarantined.inc()

    def on_restart(self, room_id: int) -> None:
        self.restarts.inc()

    def on_fenced(self, room_id: int) -> None:
        self.fenced.inc()

    def on_gap(self, room_id: int, missed: int) -> None:
        self.gaps.inc()
        self.gap_missed.inc(missed)

    async def endpoint(self, request: Request) -> Response:
        self.flush()
        states = list(request.app.state.svc.rooms.rooms.values())
        self.rooms.set(len(states))
        counts = dict.fromkeys(REASONS, 0)
        for state in states:
            for reason in state.status()["degraded"]:
                counts[reason] = counts.get(reason, 0) + 1
        for reason, n in counts.items():
            self.degraded.labels(reason).set(n)
        for state, n in request.app.state.svc.rooms.follows.counts().items():
            self.followed.labels(state).set(n)
        self.budget(request.app.state.svc.budget.snapshot())
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    def budget(self, snap: BudgetSnapshot) -> None:
        """The global pending bound's figures (dylive.collect.budget)."""
        self.pending.set(snap.pending)
        self.pending_limit.set(snap.limit)
        self.overloaded.set(int(snap.overloaded))
        self.paused.set(snap.waiting)
        if snap.waits > self._waits:
            self.overload_waits.inc(snap.waits - self._waits)
            self._waits = snap.waits
