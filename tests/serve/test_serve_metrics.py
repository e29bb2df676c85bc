"""Request counts and latencies kept as plain numbers between scrapes export what
prometheus_client's own counters and histogram export for the same requests (the latency sums
up to float rounding: they are added in another order)."""

from __future__ import annotations

import math
import random

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from dylive.serve.metrics import LATENCY_BUCKETS, Metrics


def samples(text: bytes) -> list[str]:
    """Exposition lines without comments and creation timestamps."""
    return sorted(
        line
        for line in text.decode().splitlines()
        if line.startswith("dylive_") and "_created" not in line
    )


def test_batched_request_metrics_equal_direct_ones() -> None:
    rnd = random.Random(4)
    metrics = Metrics()
    registry = CollectorRegistry()
    requests = Counter("dylive_http_requests", "x", ["endpoint", "code"], registry=registry)
    latency = Histogram("dylive_http_request_seconds", "x", ["endpoint"], registry=registry)
    delivered = Counter("dylive_messages_delivered", "x", registry=registry)
    assert LATENCY_BUCKETS == tuple(latency._upper_bounds)
    for scrape in range(3):
        for _ in range(500):
            endpoint, code = rnd.choice(["chat", "audience"]), rnd.choice(["200", "40005"])
            seconds = rnd.choice([0.0, 0.005, 0.0051, 0.1, 2.5, 11.0, rnd.random() / 10])
            metrics.on_request(endpoint, code, seconds)
            requests.labels(endpoint, code).inc()
            latency.labels(endpoint).observe(seconds)
            metrics.on_delivered(scrape)
            delivered.inc(scrape)
        metrics.flush()
        ours = [
            s for s in samples(generate_latest(metrics.registry)) if "http_" in s or "deliv" in s
        ]
        theirs = samples(generate_latest(registry))
        assert [s for s in ours if "_sum" not in s] == [s for s in theirs if "_sum" not in s]
        sums = [(a.split()[0], float(a.split()[1])) for a in ours if "_sum" in a]
        want = [(b.split()[0], float(b.split()[1])) for b in theirs if "_sum" in b]
        assert [k for k, _ in sums] == [k for k, _ in want]
        assert all(
            math.isclose(a, b, rel_tol=1e-9) for (_, a), (_, b) in zip(sums, want, strict=True)
        )
