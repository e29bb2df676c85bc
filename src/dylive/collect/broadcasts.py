"""Reading a followed anchor across its broadcasts (the chat endpoint with ``room_id=<web_rid>``).

Each broadcast is its own room_id, and stored seqs grow across rooms (one sequence for the
whole store), so the broadcasts of one web_rid, oldest first, form one stream in seq order: a
broadcast is collected only after the previous one has ended and been stored. A position (a
seq) of an old broadcast therefore continues into the next one: :func:`room_after` names the
broadcast to read after a seq — the oldest one with messages after it, else the current one —
so a reader finishes the old broadcast, then moves on, with no gap and no repeat.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from dylive.store import EventStore

__all__ = ["MAX_CHAIN", "ChainCache", "broadcast_chain", "carried_position", "room_after"]

#: broadcasts of one web_rid a position can continue across (the latest ones)
MAX_CHAIN = 8


async def broadcast_chain(store: EventStore, web_rid: str, current: int) -> list[int]:
    """The room_ids of ``web_rid``'s broadcasts, oldest first, ending with ``current``."""
    sessions = await store.list_sessions(web_rid=web_rid) if web_rid else []
    ids = [s.room_id for s in sorted(sessions, key=lambda s: s.id)]
    chain = [r for r in dict.fromkeys(ids) if r != current]
    return [*chain[-(MAX_CHAIN - 1) :], current]


class ChainCache:
    """:func:`broadcast_chain` kept per (web_rid, current room_id) for ``ttl`` seconds.

    A long-poller of a web_rid asks for the chain on every request (4 a second per room in
    ``bench/api.py c``): a sessions query and a reader-thread hop each time, about a tenth of the
    service's CPU at 200 rooms. The earlier broadcasts of a current one do not change once it
    is live (a new broadcast is a new key); the ttl bounds how long a session stored late, by
    another fleet node, can stay unseen. At most ``size`` keys (the oldest dropped first)."""

    def __init__(self, ttl: float = 5.0, size: int = 4096) -> None:
        self.ttl = ttl
        self.size = size
        self._chains: dict[tuple[str, int], tuple[float, list[int]]] = {}

    def fresh(self, web_rid: str, current: int) -> Sequence[int] | None:
        """The cached chain when it is younger than ``ttl`` (read only: the cached list
        itself), else None (then :meth:`chain`): the request path's check, no coroutine."""
        hit = self._chains.get((web_rid, current))
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        return None

    async def chain(self, store: EventStore, web_rid: str, current: int) -> list[int]:
        key = (web_rid, current)
        now = time.monotonic()
        hit = self._chains.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return list(hit[1])
        chain = await broadcast_chain(store, web_rid, current)
        self._chains.pop(key, None)
        self._chains[key] = (now, chain)
        while len(self._chains) > self.size:
            del self._chains[next(iter(self._chains))]
        return list(chain)


async def room_after(store: EventStore, chain: Sequence[int], after: int) -> int:
    """The broadcast to read after seq ``after``: the oldest with a message after it, else the
    current one (the last of ``chain``). Usually one query: the previous broadcast is done."""
    chosen = chain[-1]
    for room_id in reversed(chain[:-1]):
        if await store.last_seq(room_id) <= after:
            break
        chosen = room_id
    return chosen


async def carried_position(store: EventStore, token_id: int, chain: Sequence[int]) -> int | None:
    """A token's position in the latest earlier broadcast it read (None: it read none)."""
    for room_id in reversed(chain[:-1]):
        seq = await store.get_position(token_id, room_id)
        if seq is not None:
            return seq
    return None
