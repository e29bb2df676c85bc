"""A bounded in-memory cache of the most recent committed messages of each polled room.

Live pollers read the tail of a room; serving those pages from memory avoids a thread hop and an
SQL query per request. Invariant per cached room: every stored row of the room with
``seq > floor`` is in the cache, in seq order, up to the store's published ``last_seq``. The
store keeps it by feeding :meth:`TailCache.extend` with the rows of each committed batch (never
uncommitted ones) on the event loop thread, in the same step that publishes the new last seq.
Reads older than ``floor`` go to SQL. Rooms are evicted least recently read first.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from .base import JoinedPage, Page, StoredMessage

#: bytes a cached row costs beside its rendered JSON (the StoredMessage tuple and its ints, the
#: bytes object's header, one slot in each of the room's four lists: 316 by tracemalloc), counted in
#: ``max_bytes`` so the budget bounds the memory and not only the JSON
ROW_OVERHEAD = 320


def _cost(body: bytes) -> int:
    return len(body) + ROW_OVERHEAD


@dataclass(slots=True)
class _Room:
    floor: int  # every row of the room with seq > floor is cached
    seqs: list[int] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    rows: list[StoredMessage] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)  # rows' rendered JSON: joined in slices
    nbytes: int = 0  # sum of _cost(body) of its bodies


class TailCache:
    """``TailCache(size, rooms, max_bytes)``: up to ``size`` messages for each of up to ``rooms``
    rooms, and about ``max_bytes`` in all (rendered JSON and :data:`ROW_OVERHEAD` a row): with
    many rooms each keeps its share (at least ``MIN_ROWS`` rows), so memory stays bounded as
    rooms are added (500 rooms of ~2 KB messages at 256 rows each would hold ~300 MB) while a
    live poller's page still comes from memory."""

    MIN_ROWS = 16

    def __init__(self, size: int = 256, rooms: int = 1024, max_bytes: int = 64 << 20) -> None:
        self.size = size
        self.max_rooms = rooms
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._rooms: OrderedDict[int, _Room] = OrderedDict()
        self.cached: frozenset[int] = frozenset()  # read by the writer thread (atomic swap)
        self.low = 0  # retention deleted every row below this seq: never cached (forget)
        self.hits = 0
        self.misses = 0

    def page(
        self, room_id: int, after_seq: int, limit: int, methods: frozenset[str] | None
    ) -> Page | None:
        """The page after ``after_seq`` from memory, or None when it is not (all) cached."""
        found = self._start(room_id, after_seq)
        if found is None:
            return None
        room, start = found
        if methods is None or methods.issuperset(room.methods[start : start + limit]):
            rows = room.rows[start : start + limit]  # every row wanted: one slice
            return Page(rows, rows[-1].seq if rows else after_seq)
        return self._filtered(room, start, after_seq, limit, methods)

    def joined(
        self, room_id: int, after_seq: int, limit: int, methods: frozenset[str] | None
    ) -> JoinedPage | None:
        """:meth:`page` as the chat endpoint sends it (:class:`JoinedPage`), or None."""
        found = self._start(room_id, after_seq)
        if found is None:
            return None
        room, start = found
        end = start + limit
        if methods is None or methods.issuperset(room.methods[start:end]):
            bodies = room.bodies[start:end]  # every row wanted: one slice, joined
            if not bodies:
                return JoinedPage(0, b"", after_seq)
            last = room.rows[start + len(bodies) - 1]
            return JoinedPage(len(bodies), b",".join(bodies), last.seq, last.msg_id)
        return JoinedPage.of(self._filtered(room, start, after_seq, limit, methods))

    def _start(self, room_id: int, after_seq: int) -> tuple[_Room, int] | None:
        """The cached room and the index of its first row after ``after_seq`` (None: a miss)."""
        room = self._rooms.get(room_id)
        if room is None or after_seq < room.floor:
            self.misses += 1
            return None
        self.hits += 1
        self._rooms.move_to_end(room_id)
        return room, bisect_right(room.seqs, after_seq)

    @staticmethod
    def _filtered(
        room: _Room, start: int, after_seq: int, limit: int, methods: frozenset[str]
    ) -> Page:
        messages: list[StoredMessage] = []
        ignored: dict[str, None] = {}
        last = after_seq
        for row in room.rows[start:]:
            last = row.seq
            if row.method in methods:
                messages.append(row)
                if len(messages) >= limit:
                    break
            else:
                ignored[row.method] = None
        return Page(messages, last, list(ignored))

    def after(self, room_id: int, after_seq: int, limit: int) -> list[StoredMessage] | None:
        """Up to ``limit`` rows after ``after_seq`` from memory (every method), or None when the
        room is not cached or ``after_seq`` is older than what it holds. Not counted as a read
        (hits/misses, recency): the analytics fold uses it, not pollers."""
        room = self._rooms.get(room_id)
        if room is None or after_seq < room.floor:
            return None
        start = bisect_right(room.seqs, after_seq)
        return room.rows[start : start + limit]

    def last_seq(self, room_id: int) -> int | None:
        """The highest cached seq of a room (None when the room is not cached)."""
        room = self._rooms.get(room_id)
        if room is None:
            return None
        return room.seqs[-1] if room.seqs else room.floor

    def track(self, room_id: int, floor: int) -> None:
        """Start caching a room from its next committed row (``floor``: its last published seq)
        without reading anything: the store calls it when a room is written, so the rows of
        every collected room are in memory for the analytics fold before anyone polls it. If a
        batch of the room was already in flight, the store's ``drop`` undoes this (its rows
        were not captured) and the next write tracks it again."""
        if room_id in self._rooms:
            return
        self._rooms[room_id] = _Room(floor)
        self._evict()

    def install(self, room_id: int, rows: list[StoredMessage], published: int) -> None:
        """Cache ``rows`` (the room's latest, ascending, read in one snapshot) unless rows were
        published since that snapshot (``published`` > the last fetched seq)."""
        if room_id in self._rooms or not rows or rows[-1].seq < published:
            return
        floor = rows[0].seq - 1 if len(rows) >= self.size else 0
        if rows[0].seq < self.low:  # read before retention's latest delete: not those rows
            rows = rows[bisect_left([r.seq for r in rows], self.low) :]
            floor = max(floor, self.low - 1)
        bodies = [r.rendered for r in rows]
        room = self._rooms[room_id] = _Room(
            floor,
            [r.seq for r in rows],
            [r.method for r in rows],
            list(rows),
            bodies,
            sum(map(_cost, bodies)),
        )
        self.nbytes += room.nbytes
        self._fit(room)
        self._evict()

    def _evict(self) -> None:
        while len(self._rooms) > self.max_rooms:
            _, room = self._rooms.popitem(last=False)
            self.nbytes -= room.nbytes
        self.cached = frozenset(self._rooms)

    def _fit(self, room: _Room) -> None:
        """Trim the room's oldest rows to ``size`` rows and to its share of ``max_bytes``
        (keeping ``MIN_ROWS``); ``floor`` follows, so every row above it stays cached."""
        n = len(room.rows)
        drop = max(0, n - self.size)
        freed = sum(map(_cost, room.bodies[:drop]))
        share = self.max_bytes // max(1, len(self._rooms))
        while room.nbytes - freed > share and drop < n - self.MIN_ROWS:
            freed += _cost(room.bodies[drop])
            drop += 1
        if drop:
            room.floor = room.seqs[drop] - 1
            del room.seqs[:drop], room.methods[:drop], room.rows[:drop], room.bodies[:drop]
            room.nbytes -= freed
            self.nbytes -= freed

    def extend(self, rows: Iterable[StoredMessage], covered: frozenset[int]) -> None:
        """Append committed rows (ascending seq) of the rooms in ``covered`` (the rooms whose
        rows the writer selected)."""
        for row in rows:
            room = self._rooms.get(row.room_id)
            if room is None or row.seq <= (room.seqs[-1] if room.seqs else room.floor):
                continue
            room.seqs.append(row.seq)
            room.methods.append(row.method)
            room.rows.append(row)
            room.bodies.append(row.rendered)
            cost = _cost(row.rendered)
            room.nbytes += cost
            self.nbytes += cost
        for room_id in covered:
            room = self._rooms.get(room_id)
            if room is not None:
                self._fit(room)

    def drop(self, room_ids: Iterable[int]) -> None:
        """Forget rooms whose new rows were not captured (the invariant cannot be kept)."""
        changed = False
        for room_id in room_ids:
            room = self._rooms.pop(room_id, None)
            if room is not None:
                self.nbytes -= room.nbytes
                changed = True
        if changed:
            self.cached = frozenset(self._rooms)

    def forget(self, before_seq: int) -> None:
        """Retention deleted the rows with ``seq < before_seq`` (all of them; on PostgreSQL
        those also stored before its cutoff): drop them from every room and raise its floor
        to ``before_seq - 1`` (older reads go to SQL), and never cache them again (a read or a
        sync from before the delete, installed or extended after it)."""
        self.low = max(self.low, before_seq)
        for room in self._rooms.values():
            room.floor = max(room.floor, before_seq - 1)
            drop = bisect_left(room.seqs, before_seq)
            if not drop:
                continue
            freed = sum(map(_cost, room.bodies[:drop]))
            del room.seqs[:drop], room.methods[:drop], room.rows[:drop], room.bodies[:drop]
            room.nbytes -= freed
            self.nbytes -= freed

    def clear(self) -> None:
        self._rooms.clear()
        self.nbytes = 0
        self.cached = frozenset()
