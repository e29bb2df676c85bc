"""Prometheus metrics (one registry per app, so several apps can live in one process)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from dylive.identity.source import REASONS


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

        # labelled children by label values: ``labels()`` costs a lock and a dict look-up per call
        self._request_counts: dict[tuple[str, str], Any] = {}
        self._latencies: dict[str, Any] = {}

    def on_request(self, endpoint: str, code: str, seconds: float) -> None:
        """Count one API request by endpoint and envelope code and time it."""
        count = self._request_counts.get((endpoint, code))
        if count is None:
            count = self._request_counts[endpoint, code] = self.requests.labels(endpoint, code)
        count.inc()
        latency = self._latencies.get(endpoint)
        if latency is None:
            latency = self._latencies[endpoint] = self.latency.labels(endpoint)
        latency.observe(seconds)

    def on_stored(self, room_id: int, count: int) -> None:
        self.stored.inc(count)

    def on_retry(self, room_id: int) -> None:
        self.store_retries.inc()

    def on_quarantined(self, room_id: int) -> None:
        self.quarantined.inc()

    def on_restart(self, room_id: int) -> None:
        self.restarts.inc()

    def on_gap(self, room_id: int, missed: int) -> None:
        self.gaps.inc()
        self.gap_missed.inc(missed)

    async def endpoint(self, request: Request) -> Response:
        states = list(request.app.state.svc.rooms.rooms.values())
        self.rooms.set(len(states))
        counts = dict.fromkeys(REASONS, 0)
        for state in states:
            for reason in state.status()["degraded"]:
                counts[reason] = counts.get(reason, 0) + 1
        for reason, n in counts.items():
            self.degraded.labels(reason).set(n)
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
