"""How many WebSocket feeds one token may hold open at a time (both feed paths together).

Each open feed costs the server a task, a bounded queue and a socket; without a cap one valid
token could open thousands. A connection over the cap is refused with code 40302 (close code
4403) before it is served. The cap lives on the app (``app.state.feed_quota``), created on first
use with ``MAX_FEEDS_PER_TOKEN``; a deployment or a test may set another one there first.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

from .errors import FEED_LIMIT, ApiError

MAX_FEEDS_PER_TOKEN = 32


class FeedQuota:
    """Open feeds per token id, at most ``limit`` each (0 = no limit)."""

    def __init__(self, limit: int = MAX_FEEDS_PER_TOKEN) -> None:
        self.limit = limit
        self.open: Counter[int] = Counter()

    @contextlib.contextmanager
    def hold(self, token_id: int) -> Iterator[None]:
        """One feed of ``token_id`` while inside; ApiError(FEED_LIMIT) when it has its limit."""
        if self.limit and self.open[token_id] >= self.limit:
            raise ApiError(FEED_LIMIT, f"this token may hold {self.limit} feed(s) open at a time")
        self.open[token_id] += 1
        try:
            yield
        finally:
            self.open[token_id] -= 1
            if self.open[token_id] <= 0:
                del self.open[token_id]


def quota_of(app: Any) -> FeedQuota:
    """The app's feed quota (created with the default limit on first use)."""
    quota: FeedQuota | None = getattr(app.state, "feed_quota", None)
    if quota is None:
        quota = app.state.feed_quota = FeedQuota()
    return quota
