"""Pushing stored messages out: the durable outbox (``outbox``), signed webhooks (``webhooks``)
and the WebSocket feed (``feed``). ``serve/`` is only their HTTP face."""

from .outbox import Batch, Outbox, OutboxPolicy, OutboxStats, Sink

__all__ = ["Batch", "Outbox", "OutboxPolicy", "OutboxStats", "Sink"]
