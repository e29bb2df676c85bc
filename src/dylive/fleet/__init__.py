"""A fleet of ``dylive serve`` nodes on one PostgreSQL database (PostgreSQL only).

- :mod:`.db` — the SQL: node registry, room leases (``SELECT … FOR UPDATE SKIP LOCKED``, epoch
  per claim), on-demand wants, fleet-wide token room use.
- :mod:`.placement` — pure rules: fair share, least-loaded claims, gradual hand-off.
- :mod:`.node` — :class:`FleetNode`, the per-node loop that drives the local room manager.

Writes of a leased room carry ``Fence(node, epoch)``; the store refuses a stale epoch
(:class:`~dylive.errors.LeaseLost`). Cross-node wake-ups (long-poll, SSE) ride on the store's
``LISTEN/NOTIFY``. See ``docs/fleet.md``.
"""

from __future__ import annotations

from .node import FleetNode, FleetOptions, default_node_id

__all__ = ["FleetNode", "FleetOptions", "default_node_id"]
