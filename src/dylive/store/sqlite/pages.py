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
from collections.abc import Iterable
from typing import Any

from ..migrations import to_unsigned
from ..records import JoinedPage, Page, StoredMessage
from ..rows import message_from_row

EVENT_COLS = "seq, room_id, msg_id, method, created_at, stored_at, rendered"
# the (room_id, seq) index events_room_seq, then each row from the table by seq
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
        self,
        room_id: int,
        after_seq: int,
        limit: int,
        methods: frozenset[str] | None,
        *,
        ignored: Iterable[str] = (),
    ) -> None:
        self._room = room_id  # signed, as stored
        self._limit = limit
        self._methods = methods
        self._chunk = limit if methods is None else limit + limit // 4 + 8
        self._chunks = 0
        self._last = after_seq
        self._ignored: dict[str, None] = dict.fromkeys(ignored)  # skipped methods, first seen
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

    @property
    def last(self) -> int:
        """The seq the next read continues after."""
        return self._last

    @property
    def ignored(self) -> tuple[str, ...]:
        return tuple(self._ignored)

    def page(self) -> Page:
        return Page(self.messages, self._last, list(self._ignored))


# A page of every method (the common request): the rows' rendered JSON joined by "," in seq
# order, how many, and the last row's seq and msg_id (bare column of the one max()). The
# ordered subquery has a LIMIT, so SQLite runs it as a co-routine feeding rows in index order.
# Nothing else per row: no wantedness, no CASE (each costs a copy of the row's bytes).
_ALL_SQL = (
    "SELECT count(*), max(seq), msg_id, CAST(group_concat(rendered, ',') AS BLOB)"
    " FROM (SELECT seq, msg_id, rendered FROM events"
    " WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT ?)"
)


def read_all_joined(
    conn: sqlite3.Connection, room_id: int, after_seq: int, limit: int
) -> JoinedPage:
    """The page of every method after ``after_seq`` (``room_id`` signed, as stored): one
    statement, no Python object per row."""
    rows, last, msg_id, body = conn.execute(_ALL_SQL, (room_id, after_seq, limit)).fetchone()
    if not rows:
        return JoinedPage(0, b"", after_seq)
    return JoinedPage(rows, body, last, msg_id + _U64 if msg_id < 0 else msg_id)


# The first ``limit`` rows of a page in one aggregate: the wanted rows' rendered JSON joined by
# "," in seq order (the ordered subquery has a LIMIT, so SQLite never flattens it into the
# aggregate: it runs as a co-routine feeding rows in index order), how many rows and how many
# wanted, and the last row's seq, msg_id and wantedness (bare columns of the one max()). A method
# filter is a CASE of string comparisons: an IN list would build a temporary index on every
# execution.
_JOINED_SQL = (
    "SELECT count(*), max(seq), msg_id, ok, sum(ok),"
    " CAST(group_concat(CASE WHEN ok THEN rendered END, ',') AS BLOB)"
    " FROM (SELECT seq, msg_id, rendered, {ok} AS ok FROM events"
    " WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT ?)"
)
# when some of those rows were not wanted: their methods, and the last wanted row's msg_id
_UNWANTED_SQL = (
    "SELECT method FROM events WHERE room_id = ? AND seq > ? AND seq <= ? AND NOT {ok} ORDER BY seq"
)
_LAST_WANTED_SQL = (
    "SELECT msg_id FROM events WHERE room_id = ? AND seq > ? AND seq <= ? AND {ok}"
    " ORDER BY seq DESC LIMIT 1"
)
_FILTERS: dict[frozenset[str] | None, tuple[str, str, str, tuple[str, ...]]] = {}


def _filter(methods: frozenset[str] | None) -> tuple[str, str, str, tuple[str, ...]]:
    """(joined-page, unwanted, last-wanted SQL, their method arguments) for a method filter."""
    found = _FILTERS.get(methods)
    if found is None:
        wanted = tuple(sorted(methods)) if methods is not None else ()
        if methods is None:
            ok = "1"
        elif wanted:
            ok = f"CASE method {' '.join(['WHEN ? THEN 1'] * len(wanted))} ELSE 0 END"
        else:
            ok = "0"
        found = (
            _JOINED_SQL.format(ok=ok),
            _UNWANTED_SQL.format(ok=ok),
            _LAST_WANTED_SQL.format(ok=ok),
            wanted,
        )
        if len(_FILTERS) >= 256:  # filters are client-chosen: bounded
            _FILTERS.clear()
        _FILTERS[methods] = found
    return found


#: the head statement's row: (rows, last seq, its msg_id, its wantedness, wanted rows, their bytes);
#: every column but the first NULL when no row was read
_Head = tuple[Any, ...]


def _head_row(
    conn: sqlite3.Connection, room_id: int, after_seq: int, limit: int, methods: frozenset[str]
) -> _Head:
    """The row of the head statement: (rows, last seq, its msg_id, its wantedness, wanted rows,
    their bytes joined)."""
    sql, _, _, wanted = _filter(methods)
    row: _Head = conn.execute(sql, (*wanted, room_id, after_seq, limit)).fetchone()
    return row


def joined_head(
    conn: sqlite3.Connection,
    room_id: int,
    after_seq: int,
    limit: int,
    methods: frozenset[str] | None,
) -> JoinedPage | JoinedScan:
    """The chat page read on ``conn`` with one statement when its head is the page (every row
    of it wanted, the common case: no scan object, no second statement); otherwise the
    :class:`JoinedScan` that took that head, to be stepped on. ``room_id`` signed, as stored."""
    if methods is None:
        return read_all_joined(conn, room_id, after_seq, limit)
    head = _head_row(conn, room_id, after_seq, limit, methods)
    rows, last, msg_id, _, count, body = head
    if not rows:
        return JoinedPage(0, b"", after_seq)
    if rows == count:  # every row wanted
        return JoinedPage(rows, body, last, msg_id + _U64 if msg_id < 0 else msg_id)
    scan = JoinedScan(room_id, after_seq, limit, methods)
    scan.step(conn, head)
    return scan


class JoinedScan:
    """A page read for the chat endpoint (:class:`JoinedPage`): the first step reads the first
    ``limit`` rows (the head) in one aggregate that returns the wanted rows' bytes already
    joined (no Python object per row); when some of those rows were not wanted, the next steps
    read the rest of the page as :class:`PageScan` does (chunks that double, at most 20 more).
    Resumable on another connection: a step that fails changes nothing."""

    __slots__ = (
        "_after",
        "_body",
        "_count",
        "_done",
        "_head_last",
        "_head_read",
        "_ignored",
        "_last_id",
        "_limit",
        "_methods",
        "_room",
        "_scan",
    )

    def __init__(
        self, room_id: int, after_seq: int, limit: int, methods: frozenset[str] | None
    ) -> None:
        self._room = room_id  # signed, as stored
        self._after = after_seq
        self._limit = limit
        self._methods = methods
        self._head_read = self._done = limit <= 0
        self._body = b""  # the head's wanted rows, joined
        self._count = 0  # how many
        self._head_last = after_seq  # the head's last row
        self._ignored: list[str] = []  # the head's unwanted rows' methods
        self._last_id: int | None = 0  # None: the last wanted row of the head is to be read
        self._scan: PageScan | None = None  # the rest of the page, when the head is not all

    def step(self, conn: sqlite3.Connection, head: _Head | None = None) -> bool:
        """Read one step; True when the page is complete. ``head``: the first step's statement
        row, already read (:func:`joined_head`)."""
        scan = self._scan
        if not self._head_read:
            self._head(conn, head)
            scan = self._scan
        elif scan is not None and not self._done:
            self._done = scan.step(conn)
        if self._done and self._last_id is None and (scan is None or not scan.messages):
            self._last_id = self._last_wanted(conn)
        return self._done

    def _head(self, conn: sqlite3.Connection, head: _Head | None = None) -> None:
        """Read the head (or take ``head``, the row of its statement already read)."""
        methods, limit = self._methods, self._limit
        if methods is None:  # every row wanted: the head is the page
            page = read_all_joined(conn, self._room, self._after, limit)
            self._count, self._body, self._head_last = page.size, page.body, page.last_seq
            self._last_id = page.last_msg_id
            self._head_read = self._done = True
            return
        _, unwanted, _, wanted = _filter(methods)
        if head is None:
            head = _head_row(conn, self._room, self._after, limit, methods)
        rows, last, msg_id, last_ok, count, body = head
        ignored: list[str] = []
        if rows and count < rows:
            args = (self._room, self._after, last, *wanted)
            ignored = [method for (method,) in conn.execute(unwanted, args).fetchall()]
        # every row wanted (a full page), or the room ends within these rows: complete
        done = not rows or count == rows or rows < limit
        if not done:
            self._scan = PageScan(self._room, last, limit - count, methods, ignored=ignored)
        if rows:
            self._count, self._body, self._head_last, self._ignored = (
                count,
                body or b"",
                last,
                ignored,
            )
        if count:
            self._last_id = (msg_id + _U64 if msg_id < 0 else msg_id) if last_ok else None
        self._head_read, self._done = True, done

    @property
    def done(self) -> bool:
        """Whether the page is complete."""
        return self._done

    def _last_wanted(self, conn: sqlite3.Connection) -> int:
        _, _, sql, wanted = _filter(self._methods)
        row = conn.execute(sql, (self._room, self._after, self._head_last, *wanted)).fetchone()
        if row is None:  # pruned since the head was read: the cursor's msg_id is informational
            return 0
        msg_id: int = row[0]
        return msg_id + _U64 if msg_id < 0 else msg_id

    def run(self, conn: sqlite3.Connection) -> JoinedScan:
        """Read steps until the page is complete."""
        while not self.step(conn):
            pass
        return self

    def page(self) -> JoinedPage:
        scan = self._scan
        if scan is None:  # the head is the page
            ignored = tuple(dict.fromkeys(self._ignored))
            return JoinedPage(self._count, self._body, self._head_last, self._last_id or 0, ignored)
        rest = scan.messages
        if not rest:
            body, last_id = self._body, self._last_id or 0
        else:
            parts = [self._body] if self._count else []
            body = b",".join(parts + [m.rendered for m in rest])
            last_id = rest[-1].msg_id
        return JoinedPage(self._count + len(rest), body, scan.last, last_id, scan.ignored)


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
