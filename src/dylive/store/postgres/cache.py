"""The PostgreSQL store's in-memory fast paths, kept right while several processes write.

SQLite's store feeds its tail cache from its own single writer. With PostgreSQL, other nodes
commit rows too, so the cache is kept from what this process *hears*:

- :class:`SharedTail` wraps a :class:`~dylive.store.tail.TailCache`. ``known[room]`` is the
  highest seq this process knows to be committed for a room: from its own commits, and from
  every ``NOTIFY <room>:<seq>`` (sent by each inserting transaction, ours and other nodes').
  A cached room whose last cached seq is below ``known`` is *stale*: reads go to SQL, and a
  sync task fetches the missing rows (``seq >`` the cached last, which returns a gap-free run
  of each room because a room's seqs become visible in commit order; the rows of several
  rooms are fetched at once from the lowest cached last, and each room keeps only those
  past its own last) and appends them. While the notification listener is down nothing is
  known, so the cache is bypassed, and it is cleared when the listener comes back
  (notifications may have been missed).
- :class:`TokenCache` remembers token lookups for a few seconds; creating, changing or revoking
  a token sends ``NOTIFY t`` and every process clears its cache, so a revocation or a new plan
  is effective on every node at once (within ``ttl`` if a notification is lost; never cached
  while not listening; a lookup that read the database before a clear is not kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from ..records import JoinedPage, Page, StoredMessage, TokenRecord
from ..tail import TailCache

log = logging.getLogger(__name__)

#: ``fetch(rooms, after_seq, limit)``: committed rows of ``rooms`` with seq > after_seq, by seq.
Fetch = Callable[[list[int], int, int], Awaitable[list[StoredMessage]]]


class SharedTail:
    """The committed tail of the polled rooms, synced from commit notifications."""

    def __init__(self, size: int = 256, rooms: int = 1024, *, fetch_limit: int = 2000) -> None:
        self.cache = TailCache(size, rooms)
        self.known: dict[int, int] = {}
        self.listening = False
        self.fetch_limit = fetch_limit
        self._dirty: set[int] = set()
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.syncs = 0

    @property
    def size(self) -> int:
        return self.cache.size

    def start(self, fetch: Fetch) -> None:
        self._task = asyncio.create_task(self._sync_loop(fetch), name="dylive-pg-tail")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- what this process hears --------------------------------------------------------------
    def committed(self, room_id: int, seq: int) -> None:
        """``room_id`` has committed rows up to ``seq`` (our commit, or a notification)."""
        if seq > self.known.get(room_id, 0):
            self.known[room_id] = seq
            if room_id in self.cache.cached:
                self._dirty.add(room_id)
                self._kick.set()

    def set_listening(self, listening: bool) -> None:
        """The listener went up or down: whatever was cached may have missed notifications."""
        self.listening = listening
        self.cache.clear()
        self._dirty.clear()

    def clear(self) -> None:
        self.cache.clear()

    def forget(self, before_seq: int) -> None:
        """Retention deleted rows before ``before_seq``: see :meth:`TailCache.forget`."""
        self.cache.forget(before_seq)

    # -- readers ------------------------------------------------------------------------------
    def page(
        self, room_id: int, after_seq: int, limit: int, methods: frozenset[str] | None
    ) -> Page | None:
        """The page from memory, or None (not cached, stale, or not listening)."""
        return self.cache.page(room_id, after_seq, limit, methods) if self.fresh(room_id) else None

    def joined(
        self, room_id: int, after_seq: int, limit: int, methods: frozenset[str] | None
    ) -> JoinedPage | None:
        """:meth:`page` as the chat endpoint sends it (the cache's joined bodies), or None."""
        if not self.fresh(room_id):
            return None
        return self.cache.joined(room_id, after_seq, limit, methods)

    def fresh(self, room_id: int) -> bool:
        """The room is cached and holds everything other nodes are known to have committed."""
        return self.fresh_last(room_id) is not None

    def fresh_last(self, room_id: int) -> int | None:
        """The last cached seq of a :meth:`fresh` room (None: not fresh). While listening, every
        later commit of the room is heard of: a wait on it needs no query (``wait_for``)."""
        if not self.listening:
            return None
        last = self.cache.last_seq(room_id)
        return last if last is not None and last >= self.known.get(room_id, 0) else None

    def wants(self, room_id: int) -> bool:
        """Whether a read of ``room_id`` should also fetch its tail to cache it."""
        return self.listening and self.cache.size > 0 and room_id not in self.cache.cached

    def install(self, room_id: int, rows: list[StoredMessage]) -> None:
        if self.listening:
            self.cache.install(room_id, rows, self.known.get(room_id, 0))

    # -- sync ---------------------------------------------------------------------------------
    async def _sync_loop(self, fetch: Fetch) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            try:
                await self._sync(fetch)
            except Exception as exc:  # the rooms stay stale: reads go to SQL meanwhile
                log.warning("postgres: tail sync failed: %s", exc)
                self.cache.drop(list(self._dirty))
                self._dirty.clear()

    async def _sync(self, fetch: Fetch) -> None:
        while self._dirty:
            rooms = [r for r in self._dirty if r in self.cache.cached]
            self._dirty.clear()
            lasts = [s for s in map(self.cache.last_seq, rooms) if s is not None]
            if not lasts:
                return
            rows = await fetch(rooms, min(lasts), self.fetch_limit)
            self.syncs += 1
            self.cache.extend(rows, frozenset(rooms))
            behind = [r for r in rooms if self._behind(r)]
            if len(rows) >= self.fetch_limit:  # more to fetch
                self._dirty.update(behind)
            else:  # all visible rows are in; a room still behind waits for a fresh install
                self.cache.drop(r for r in behind if r not in self._dirty)

    def _behind(self, room_id: int) -> bool:
        last = self.cache.last_seq(room_id)
        return last is not None and last < self.known.get(room_id, 0)


class TokenCache:
    """Token lookups remembered for ``ttl`` seconds; cleared on any token change anywhere."""

    def __init__(self, ttl: float = 5.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self.listening = False
        self.generation = 0  # moved by every clear: a lookup read before it is not kept
        self._entries: dict[str, tuple[float, TokenRecord | None]] = {}

    def get(self, digest: str) -> tuple[bool, TokenRecord | None]:
        """``(hit, record)``."""
        entry = self._entries.get(digest)
        if entry is None or not self.listening or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, digest: str, record: TokenRecord | None, generation: int) -> None:
        """Remember a lookup that began at ``generation`` (not if a change came since)."""
        if not self.listening or generation != self.generation:
            return
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[digest] = (time.monotonic() + self.ttl, record)

    def clear(self, digests: Iterable[str] | None = None) -> None:
        self.generation += 1
        if digests is None:
            self._entries.clear()
        else:
            for digest in digests:
                self._entries.pop(digest, None)
