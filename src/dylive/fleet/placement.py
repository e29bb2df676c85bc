"""Placement decisions, pure: how many free rooms a node claims and how many it hands off.

Every node runs the same rule on the same view (live nodes, their loads, the rooms wanted):

- A node's fair share is ``ceil(wanted / live nodes)``, capped by its ``--max-rooms``.
- Free rooms go to the least-loaded node: a node claims only while no live node with capacity
  left holds fewer rooms than it does, and only up to its share. Nodes that tie claim together;
  ``SKIP LOCKED`` hands each of them different rows.
- A node above its share hands one room off per tick (graceful: flush, store the position,
  release) while some live node is at least two rooms below it, so a node that joins takes its
  share over time and no room moves back and forth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def fair_share(wanted: int, live: int, capacity: int) -> int:
    """Rooms one node should hold: ``ceil(wanted / live)``, at most ``capacity``."""
    if wanted <= 0 or live <= 0:
        return 0
    return min(capacity, math.ceil(wanted / live))


def to_claim(me: str, loads: Mapping[str, int], capacities: Mapping[str, int], wanted: int) -> int:
    """How many free rooms ``me`` claims now (0 when a less-loaded live node should)."""
    mine = loads.get(me, 0)
    share = fair_share(wanted, len(loads), capacities.get(me, 0))
    if mine >= share:
        return 0
    open_loads = [n for node, n in loads.items() if n < capacities.get(node, 0)]
    if open_loads and mine > min(open_loads):
        return 0
    return share - mine


def to_release(
    me: str, loads: Mapping[str, int], capacities: Mapping[str, int], wanted: int
) -> int:
    """How many held rooms ``me`` hands off now (at most one per tick, except over capacity)."""
    mine = loads.get(me, 0)
    capacity = capacities.get(me, 0)
    if mine > capacity:
        return mine - capacity
    share = fair_share(wanted, len(loads), capacity)
    others = [
        n for node, n in loads.items() if node != me and n < min(share, capacities.get(node, 0))
    ]
    if mine > share and others and mine - min(others) >= 2:
        return 1
    return 0
