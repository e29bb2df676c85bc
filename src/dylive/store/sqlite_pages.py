"""Page reads of the SQLite store: a resumable forward scan and the tail snapshot.

A page is "the first ``limit`` rows after ``after_seq`` whose method is wanted". :class:`PageScan`
reads it in chunks that start a little above ``limit`` and double (bounded work: at most 20
chunks of at most 2,000 rows). It is resumable on another connection: the store runs the first
chunk on the event loop thread (no thread hop for the common small page) and, only when that
chunk did not finish the page, the rest on a reader thread. A later chunk may come from a later
snapshot; that keeps the page exact because seq grows with commit order (one writer), so a newer
snapshot only adds rows after the ones already read.
"""

from __future__ import annotations

import sqlite3

from .base import Page, StoredMessage
from .migrations import to_unsigned
from .rows import message_from_row

EVENT_COLS = "seq, room_id, msg_id, method, created_at, stored_at, rendered"
# every column is in the covering index events_room_page: no table look-up per row
_PAGE_SQL = (
    "SELECT seq, msg_id, method, created_at, stored_at, rendered FROM events"
    " WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT ?"
)
_U64 = 1 << 64
_MAX_CHUNKS = 20
_MAX_CHUNK = 2000


class PageScan:
    """One page being read: ``step(conn)`` reads a chunk; ``page()`` is the result so far."""

    __slots__ = (
        "_chunk",
        "_chunks",
        "_ignored",
        "_last",
        "_limit",
        "_methods",
        "_room",
        "done",
        "messages",
    )

    def __init__(
        self, room_id: int, after_seq: int, limit: int, methods: frozenset[str] | None
    ) -> None:
        self._room = room_id  # signed, as stored
        self._limit = limit
        self._methods = methods
        self._chunk = limit if methods is None else limit + limit // 4 + 8
        self._chunks = 0
        self._last = after_seq
        self._ignored: dict[str, None] = {}
        self.messages: list[StoredMessage] = []
        self.done = limit <= 0

    def step(self, conn: sqlite3.Connection) -> bool:
        """Read one chunk; True when the page is complete."""
        if self.done:
            return True
        rows = conn.execute(_PAGE_SQL, (self._room, self._last, self._chunk)).fetchall()
        methods, messages, limit = self._methods, self.messages, self._limit
        room = to_unsigned(self._room)
        for seq, msg_id, method, created_at, stored_at, rendered in rows:
            self._last = seq
            if methods is None or method in methods:
                if msg_id < 0:
                    msg_id += _U64
                messages.append(
                    StoredMessage(seq, room, msg_id, method, created_at, stored_at, rendered)
                )
                if len(messages) >= limit:
                    self.done = True
                    return True
            else:
                self._ignored[method] = None
        self._chunks += 1
        self.done = len(rows) < self._chunk or self._chunks >= _MAX_CHUNKS
        self._chunk = min(self._chunk * 2, _MAX_CHUNK)
        return self.done

    def run(self, conn: sqlite3.Connection) -> PageScan:
        """Read chunks until the page is complete."""
        while not self.step(conn):
            pass
        return self

    def page(self) -> Page:
        return Page(self.messages, self._last, list(self._ignored))


def read_page(
    conn: sqlite3.Connection,
    room_id: int,
    after_seq: int,
    limit: int,
    methods: frozenset[str] | None,
) -> Page:
    """The whole page on one connection (``room_id`` signed, as stored)."""
    return PageScan(room_id, after_seq, limit, methods).run(conn).page()


def tail_rows(conn: sqlite3.Connection, room_id: int, size: int) -> list[StoredMessage]:
    """The room's latest ``size`` rows, ascending (one snapshot)."""
    rows = conn.execute(
        f"SELECT {EVENT_COLS} FROM events WHERE room_id = ? ORDER BY seq DESC LIMIT ?",
        (room_id, size),
    ).fetchall()
    return [message_from_row(row) for row in reversed(rows)]
