"""Prometheus series of usage metering, read at scrape time from the meter's counters:

- for the ``TOP`` (20) tokens with the most requests since this process started, and those
  only (bounded cardinality: a vendor may have thousands of tokens), labels ``token_id`` = its
  id and ``token`` = its name: ``dylive_token_requests_total``, ``dylive_token_billable_total``
  (answered 200), ``dylive_token_messages_total`` (delivered), ``dylive_token_bytes_total``
  (answer bodies). The id keeps each token's series its own: a name is unique among active
  tokens only, so a token revoked and another given its name (created, or renamed to it) had
  one label value for two tokens, exported as two samples of one series (a scrape that
  Prometheus takes in part: it keeps one of them and counts the other a duplicate);
- ``dylive_usage_flushes_total`` / ``dylive_usage_flush_failures_total``: writes of the
  counters to the database, and those that failed (their counts are kept for the next one).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from dylive.app.usage import Meter

TOP = 20
_SERIES = (
    ("requests", "Requests answered for the token (this process, since it started)"),
    ("billable", "Requests answered 200 for the token"),
    ("messages", "Messages delivered to the token (chat pages, webhooks, feeds)"),
    ("bytes", "Bytes of the answers to the token"),
)


class UsageCollector(Collector):
    def __init__(self, meter: Meter, top: int = TOP) -> None:
        self.meter = meter
        self.top = top

    def collect(self) -> Iterator[Metric]:
        totals = self.meter.totals
        busiest = heapq.nlargest(self.top, list(totals.items()), key=lambda kv: kv[1][0])
        names = self.meter.names
        for index, (name, doc) in enumerate(_SERIES):
            family = CounterMetricFamily(f"dylive_token_{name}", doc, labels=["token", "token_id"])
            for token_id, figures in busiest:
                label = [names.get(token_id, str(token_id)), str(token_id)]
                family.add_metric(label, figures[index])
            yield family
        yield CounterMetricFamily(
            "dylive_usage_flushes", "Usage counters written to the database",
            value=self.meter.flushes,
        )  # fmt: skip
        yield CounterMetricFamily(
            "dylive_usage_flush_failures", "Usage writes that failed (counts kept)",
            value=self.meter.flush_failures,
        )  # fmt: skip
