"""The event log on SQLite: appends (fenced, with upstream positions), quarantine, and reads
served from the tail cache, the event loop thread or a reader thread (see ``pages``)."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from .. import sessions as ses
from ..interfaces import EventLog
from ..migrations import to_signed, to_unsigned
from ..records import (
    ColumnsPage,
    Fence,
    JoinedPage,
    Page,
    QuarantinedMessage,
    RawRow,
    Record,
    StoredMessage,
    UpstreamPosition,
)
from ..rows import (
    POSITION_COLS,
    QUARANTINE_COLS,
    now_ms,
    position_from_row,
    position_values,
    quarantine_values,
    quarantined_from_row,
)
from ..usage import PRUNE_MESSAGES_BATCH, delete_in_batches
from .appends import Append
from .engine import SQLiteEngine
from .pages import JoinedScan, PageScan, joined_head, read_page, tail_rows
from .snapshot import HistorySnapshot

# sqlite3 binds int, float, str and bytearray parameters as they are; any other type, bytes
# included, first goes through its adapter protocol, which with no adapter registered for the
# type looks up ``__adapt__`` on the protocol class (raising and clearing an AttributeError) and
# ``__conform__`` on the value: ~3,900 instructions a bytes parameter, two a stored row (rendered,
# raw), 7 % of the writer thread's instructions a row. A registered adapter is one dict lookup
# and, ``bytes.__bytes__`` of an exact bytes object, returns the value itself: the same bytes are
# bound (docs/benchmarks.md, "Ninth session: the writer thread"). Process-wide as every sqlite3
# adapter; ints and strings stay unadapted (only an adapter for a base type such as int turns the
# protocol on for every parameter).
sqlite3.register_adapter(bytes, bytes.__bytes__)

#: A cached StoredMessage as the analytics fold's RawRow (seq, msg_id, method, created_at,
#: rendered): one C call per row instead of five attribute reads in a comprehension.
_RAW_ROW = itemgetter(0, 2, 3, 4, 6)
#: Pages up to this size start on the event loop thread (one chunk of SQL, no thread hop).
LOOP_READ_LIMIT = 200


class SQLiteEventLog(SQLiteEngine, EventLog):
    """:class:`~dylive.store.interfaces.EventLog` on SQLite. ``snapshot_age``: seconds a read
    snapshot is kept for history pages (default: the ``history_snapshot`` setting; 0: off)."""

    def __init__(self, *args: Any, snapshot_age: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._snapshot_age = snapshot_age
        #: history pages in a kept read snapshot (``snapshot.py``), loop thread only
        self.snapshot: HistorySnapshot | None = None

    async def open(self) -> None:
        await super().open()
        connect = functools.partial(self._reader_connection, busy_ms=0)
        self.snapshot = HistorySnapshot.beside(self.checkpointer, connect, self._snapshot_age)

    async def close(self) -> None:
        if self.snapshot is not None:  # first: a close of the engine waits on the loop
            self.snapshot.close()
            self.snapshot = None
        await super().close()

    async def append(
        self,
        records: Sequence[Record],
        *,
        position: UpstreamPosition | None = None,
        fence: Fence | None = None,
    ) -> int:
        if not records and position is None:
            return 0
        fenced = _fenced_room(records, position) if fence is not None else 0
        stored_at = now_ms()
        rooms = tuple({r.room_id for r in records})
        signed = {room_id: to_signed(room_id) for room_id in rooms}
        rows = [
            (
                signed[r.room_id],
                to_signed(r.msg_id),
                r.method,
                r.created_at,
                stored_at,
                r.rendered,
                r.raw,
            )
            for r in records
        ]

        pos = position_values(position) if position is not None else None
        op = Append(self, records, rows, pos, fence, fenced, stored_at)
        if self.tail.size > 0:
            for room_id in rooms:
                if room_id not in self.tail.cached:
                    self.tail.track(room_id, self._last.get(room_id, 0))
        # pure: what the op changes outside the database is the batch's own state (_known,
        # _unknown), which a retried batch starts afresh
        inserted: int = await self._submit(op, rooms, pure=True)
        self.appended += inserted
        return inserted

    async def upstream_position(self, room_id: int) -> UpstreamPosition | None:
        row = await self._query(
            lambda conn: conn.execute(
                f"SELECT {POSITION_COLS} FROM upstream_positions WHERE room_id = ?",
                (to_signed(room_id),),
            ).fetchone()
        )
        return position_from_row(row) if row else None

    async def quarantine(self, record: Record, error: str) -> None:
        values = quarantine_values(record, error)
        await self._submit(
            lambda conn: conn.execute(
                "INSERT INTO quarantine (room_id, msg_id, method, raw, error, stored_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                values,
            ),
            pure=True,
        )

    async def quarantined(self, room_id: int, limit: int = 100) -> list[QuarantinedMessage]:
        rows = await self._query(
            lambda conn: conn.execute(
                f"SELECT {QUARANTINE_COLS} FROM quarantine WHERE room_id = ?"
                " ORDER BY id DESC LIMIT ?",
                (to_signed(room_id), limit),
            ).fetchall()
        )
        return [quarantined_from_row(r) for r in rows]

    async def read(
        self,
        room_id: int,
        after_seq: int,
        limit: int,
        methods: frozenset[str] | None = None,
    ) -> Page:
        if self._last.get(room_id, 0) <= after_seq or limit <= 0:
            return Page([], after_seq)
        cached = self.tail.page(room_id, after_seq, limit, methods)
        if cached is not None:
            return cached
        fill = room_id not in self.tail.cached and self.tail.size > 0
        size = self.tail.size
        signed = to_signed(room_id)
        if not fill and limit <= LOOP_READ_LIMIT and self._lconn is not None:
            scan = PageScan(signed, after_seq, limit, methods)
            with contextlib.suppress(sqlite3.OperationalError):  # busy: all on a thread
                if scan.step(self._lconn):  # the common case: one chunk, on this thread
                    return scan.page()
            done: PageScan = await self._query(scan.run)  # the rest on a reader thread
            return done.page()

        def query(conn: sqlite3.Connection) -> tuple[Page, list[StoredMessage]]:
            page = read_page(conn, signed, after_seq, limit, methods)
            return page, (tail_rows(conn, signed, size) if fill else [])

        result: tuple[Page, list[StoredMessage]] = await self._query(query)
        page, rows = result
        if rows:
            self.tail.install(room_id, rows, self._last.get(room_id, 0))
        return page

    async def read_joined(
        self,
        room_id: int,
        after_seq: int,
        limit: int,
        methods: frozenset[str] | None = None,
    ) -> JoinedPage:
        if self._last.get(room_id, 0) <= after_seq or limit <= 0:
            return JoinedPage(0, b"", after_seq)
        joined = self.tail.joined(room_id, after_seq, limit, methods)
        if joined is not None:
            return joined
        if room_id not in self.tail.cached and self.tail.size > 0:  # read() fills the tail
            return JoinedPage.of(await self.read(room_id, after_seq, limit, methods))
        signed = to_signed(room_id)
        conn = self._lconn
        if limit <= LOOP_READ_LIMIT and conn is not None:
            # below the tail (a history page): from the kept snapshot when it fills the page
            if self.snapshot is not None and self.tail.size > 0:
                kept = await self._from_snapshot(self.snapshot, signed, after_seq, limit, methods)
                if kept is not None:
                    return kept
            try:  # the common case: one statement on this thread, the page as it returned
                found = joined_head(conn, signed, after_seq, limit, methods)
            except sqlite3.OperationalError:  # busy: all on a thread
                found = JoinedScan(signed, after_seq, limit, methods)
            if isinstance(found, JoinedPage):
                return found
            scan = found
            if scan.done:
                return scan.page()
        else:
            scan = JoinedScan(signed, after_seq, limit, methods)
        done: JoinedScan = await self._query(scan.run)  # the rest on a reader thread
        return done.page()

    async def _from_snapshot(
        self,
        snapshot: HistorySnapshot,
        signed: int,
        after_seq: int,
        limit: int,
        methods: frozenset[str] | None,
    ) -> JoinedPage | None:
        """The page read in the kept snapshot when that is the page a fresh read gives (see
        ``snapshot``); None when it is to be read fresh (no snapshot kept, busy, or short)."""
        conn = snapshot.connection()
        if conn is None:
            return None
        try:
            found = joined_head(conn, signed, after_seq, limit, methods)
        except sqlite3.OperationalError:  # busy: ended, read fresh
            snapshot.end()
            return None
        if isinstance(found, JoinedPage):
            if found.size >= limit:  # a full page
                return found
        elif not found.done:  # the rest from a fresh snapshot on a reader thread: exact
            done: JoinedScan = await self._query(found.run)
            return done.page()
        snapshot.short += 1  # the snapshot ran out of rows: newer ones may follow
        return None

    async def backlog_start(
        self, room_id: int, count: int, methods: frozenset[str] | None = None
    ) -> int:
        wanted = tuple(sorted(methods)) if methods is not None else ()
        only = f" AND method IN ({','.join('?' * len(wanted))})" if methods is not None else ""
        sql = f"SELECT seq FROM events WHERE room_id = ?{only} ORDER BY seq DESC LIMIT 1 OFFSET ?"

        def query(conn: sqlite3.Connection) -> int:
            row = conn.execute(sql, (to_signed(room_id), *wanted, count)).fetchone()
            return int(row[0]) if row else 0

        result: int = await self._query(query)
        return result

    async def last_seq(self, room_id: int) -> int:
        return self._last.get(room_id, 0)

    async def wait_for(self, room_id: int, after_seq: int, within: float) -> bool:
        if self._last.get(room_id, 0) > after_seq:
            return True
        if within > 0:  # one future, woken by the commit's _finish or its deadline bucket
            await self.waiters.wait(room_id, within)
        return self._last.get(room_id, 0) > after_seq

    async def messages_of(
        self, room_id: int, methods: Iterable[str], after_seq: int
    ) -> list[tuple[int, int, str, bytes]]:
        wanted = tuple(methods)
        marks = ",".join("?" * len(wanted))
        sql = (
            f"SELECT seq, msg_id, method, raw FROM events WHERE room_id = ? AND seq > ?"
            f" AND method IN ({marks}) ORDER BY seq"
        )
        rows = await self._query(
            lambda conn: conn.execute(sql, (to_signed(room_id), after_seq, *wanted)).fetchall()
        )
        return [(seq, to_unsigned(msg_id), method, raw) for seq, msg_id, method, raw in rows]

    async def scan(
        self, room_id: int, after_seq: int, limit: int, *, rendered: bool = False
    ) -> list[RawRow]:
        if rendered:  # the analytics fold, after each stored batch: usually all in the tail
            if self._last.get(room_id, 0) <= after_seq:
                return []
            cached = self.tail.after(room_id, after_seq, limit)
            if cached is not None:
                return list(map(_RAW_ROW, cached))
        sql = ses.q(ses.SCAN_RENDERED if rendered else ses.SCAN)
        args = (to_signed(room_id), after_seq, limit)
        rows = await self._query(lambda conn: conn.execute(sql, args).fetchall())
        return [ses.raw_row(row) for row in rows]

    async def scan_columns(self, room_id: int, after_seq: int, limit: int) -> ColumnsPage:
        args = (to_signed(room_id), after_seq, limit)
        row = await self._query(lambda conn: conn.execute(_SCAN_COLUMNS, args).fetchone())
        size, last_seq, columns, rendered = row
        return (
            ColumnsPage(size, last_seq, columns, rendered) if size else ColumnsPage(0, 0, b"", b"")
        )

    async def prune(self, older_than_ms: int, batch: int = PRUNE_MESSAGES_BATCH) -> int:
        # the oldest messages up to the first stored at/after the cutoff (seq is the commit
        # order): found on a reader thread (a scan of the rows to delete, by rowid), then
        # deleted by rowid range in batches, each its own write (appends go in between)
        def first_kept(conn: sqlite3.Connection) -> int:
            return int(conn.execute(_FIRST_KEPT, (older_than_ms,)).fetchone()[0])

        keep_from: int = await self._query(first_kept)
        if not keep_from:
            return 0
        forget = functools.partial(self.tail.forget, keep_from)  # the tail may hold them
        return await delete_in_batches(self._delete_batch, (_PRUNE,), (keep_from,), batch, forget)

    async def room_heads(self) -> dict[int, int]:
        return dict(self._last)


# retention (prune): the first message to keep (a rowid-order scan of the older ones, which are
# deleted next), and one batch of those before it (a rowid range: no other index needed)
# every row older: up to the newest. One statement, so one snapshot: as two, an append committed
# between them (stored after the cutoff) fell below max(seq) + 1 and was deleted
_FIRST_KEPT = (
    "SELECT coalesce((SELECT seq FROM events WHERE stored_at >= ? ORDER BY seq LIMIT 1),"
    " (SELECT max(seq) + 1 FROM events), 0)"
)
_PRUNE = (
    "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq < ? ORDER BY seq LIMIT ?)"
)

# scan_columns: the page in one aggregate (json_group_array per column, printf's %llu: the
# unsigned msg_id); the aggregates read the ordered subquery in its order
_SCAN_COLUMNS = """
SELECT count(*), max(seq),
    CAST('{"seq":' || json_group_array(seq)
        || ',"msg_id":' || json_group_array(json(printf('%llu', msg_id)))
        || ',"method":' || json_group_array(method)
        || ',"created_at":' || json_group_array(created_at) || '}' AS BLOB),
    CAST(group_concat(CAST(rendered AS TEXT), x'0a') AS BLOB)
FROM (
    SELECT seq, msg_id, method, created_at, rendered FROM events
    WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT ?
)
"""


def _fenced_room(records: Sequence[Record], position: UpstreamPosition | None) -> int:
    """The (signed) room a fenced write is for: its records' room, else its position's."""
    return to_signed(records[0].room_id if records else position.room_id if position else 0)
