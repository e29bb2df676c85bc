"""Prometheus series of the delivery parts, read at scrape time from their counters:

- per webhook (label ``webhook``): ``dylive_webhook_delivered_total`` (messages acknowledged),
  ``dylive_webhook_batches_total``, ``dylive_webhook_retried_total`` (failed attempts),
  ``dylive_webhook_dead_lettered_total`` (messages), ``dylive_webhook_lag_seconds`` (age of the
  oldest unacknowledged message being sent), ``dylive_webhook_paused`` (0/1);
- per feed kind (label ``feed``: ``dylive`` or ``douyinlive``): ``dylive_feed_clients``,
  ``dylive_feed_connections_total``, ``dylive_feed_messages_total`` (messages sent),
  ``dylive_feed_frames_total``, ``dylive_feed_slow_closed_total``, ``dylive_feed_resumed_total``;
  and ``dylive_feed_room_clients`` per room (label ``room_id``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .app import HttpService as Service

_HOOK_COUNTERS = (
    ("delivered", "Messages acknowledged by the webhook target"),
    ("batches", "Batches acknowledged by the webhook target"),
    ("retried", "Failed delivery attempts (retried later)"),
    ("dead_lettered", "Messages moved to the dead-letter list"),
)
_FEED_COUNTERS = (
    ("connections", "Feed connections accepted"),
    ("messages", "Messages sent to feed clients"),
    ("frames", "Frames sent to feed clients"),
    ("slow_closed", "Feed clients closed for being slow (code 4008)"),
    ("resumed", "Feed connections resumed from a cursor"),
)


class DeliveryCollector(Collector):
    def __init__(self, svc: Service) -> None:
        self.svc = svc

    def collect(self) -> Iterator[Metric]:
        yield from self._webhooks()
        yield from self._feeds()

    def _webhooks(self) -> Iterator[Metric]:
        running = self.svc.webhooks.running
        for name, doc in _HOOK_COUNTERS:
            family = CounterMetricFamily(f"dylive_webhook_{name}", doc, labels=["webhook"])
            for hook_id, run in running.items():
                family.add_metric([str(hook_id)], getattr(run.outbox.stats, name))
            yield family
        lag = GaugeMetricFamily("dylive_webhook_lag_seconds", "Webhook lag", labels=["webhook"])
        paused = GaugeMetricFamily("dylive_webhook_paused", "1 while paused", labels=["webhook"])
        for hook_id, run in running.items():
            lag.add_metric([str(hook_id)], run.outbox.stats.lag_seconds())
            paused.add_metric([str(hook_id)], 1.0 if run.outbox.paused else 0.0)
        yield lag
        yield paused

    def _feeds(self) -> Iterator[Metric]:
        kinds = (("dylive", self.svc.feeds.dylive), ("douyinlive", self.svc.feeds.douyinlive))
        clients = GaugeMetricFamily("dylive_feed_clients", "Open feed clients", labels=["feed"])
        for kind, stats in kinds:
            clients.add_metric([kind], stats.clients)
        yield clients
        for name, doc in _FEED_COUNTERS:
            family = CounterMetricFamily(f"dylive_feed_{name}", doc, labels=["feed"])
            for kind, stats in kinds:
                family.add_metric([kind], getattr(stats, name))
            yield family
        rooms = GaugeMetricFamily(
            "dylive_feed_room_clients", "Open feed clients per room", labels=["feed", "room_id"]
        )
        for kind, stats in kinds:
            for room_id, count in stats.per_room.items():
                rooms.add_metric([kind, str(room_id)], count)
        yield rooms
