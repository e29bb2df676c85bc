"""The token of a long-lived delivery (an SSE stream, a WebSocket feed), followed while it runs.

A stream or feed is authorized once when it opens; after that :meth:`LiveToken.recheck` runs on
its own timer (the stream's status interval, the feed's re-check interval: every 2 s by
default), never per message. A re-check reads the token record (both backends answer it from
their token cache, cleared by every token change) and:

- ends the delivery with ``40002`` when the token was revoked or has expired;
- ends it with ``42902`` when a message quota (``messages_per_day`` / ``messages_per_month``)
  is used up (request quotas are checked when it opens, like any request);
- takes the token's current plan: the room limit of its next ``collection.touch``, its quotas.

Between re-checks the message quota is followed per message through the in-memory quota book
(:meth:`may_send`): no store read; on one node a delivery stops at the quota exactly.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from dylive.store import TokenRecord

from .errors import BAD_TOKEN, QUOTA_EXCEEDED, ApiError

if TYPE_CHECKING:
    from .app import HttpService as Service


class LiveToken:
    """The current record of one delivery's token (see the module docstring)."""

    __slots__ = ("capped", "id", "record", "svc")

    def __init__(self, svc: Service, record: TokenRecord) -> None:
        self.svc = svc
        self.id = record.id  # never changes
        self.record = record
        self.capped = _capped(record)  # the plan has a message quota

    @property
    def room_limit(self) -> int:
        return self.record.room_limit

    async def recheck(self) -> None:
        """Re-read the token: ApiError BAD_TOKEN (revoked, expired, gone) or QUOTA_EXCEEDED (a
        message quota used up); StoreError when the store cannot answer."""
        record = await self.svc.store.token_by_digest(self.record.digest)
        if record is None or not record.active:
            raise ApiError(BAD_TOKEN, "the token was revoked")
        if record.expired(time.time_ns() // 1_000_000):
            raise ApiError(BAD_TOKEN, "the token has expired")
        self.record, self.capped = record, _capped(record)
        if self.capped:
            await self.svc.check_quota(record, messages_only=True)

    def messages_left(self) -> int | None:
        """Messages the token may still receive (None: no message quota), from the quota book."""
        return self.svc.quotas.messages_left(self.record) if self.capped else None

    def may_send(self) -> bool:
        """False when a message quota is used up (one dictionary look-up when capped)."""
        if not self.capped:
            return True
        left = self.svc.quotas.messages_left(self.record)
        return left != 0  # None: not in the book (the next re-check loads it)

    async def quota_error(self) -> ApiError:
        """The 42902 error of the used-up message quota (its figures from the quota book)."""
        try:
            await self.svc.check_quota(self.record, messages_only=True)
        except ApiError as exc:
            return exc
        return ApiError(QUOTA_EXCEEDED, "a message quota is used up")


def _capped(record: TokenRecord) -> bool:
    q = record.quota
    return bool(q.messages_per_day or q.messages_per_month)
