"""SQLite implementation of :class:`EventStore`: the embedded default.

One writer: every write is queued to a single task that batches whatever is pending into one
transaction on a dedicated thread (WAL mode, ``synchronous=NORMAL`` by default: durable across a
process crash). Reads run on a small pool of threads, each with its own read-only connection,
never on the event loop. Keyset reads (``seq > ?``), never OFFSET.

Two in-memory fast paths keep live polling off the reader threads: the committed tail of each
polled room (:class:`~dylive.store.tail.TailCache`, fed by the writer after each commit) and
token records, cached per ``PRAGMA data_version`` of a watch connection (any commit, by this
process or another one such as ``dylive token revoke``, invalidates them before the next lookup).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dylive.errors import LeaseLost, StoreError

from . import sessions as ses
from .base import (
    EventStore,
    Fence,
    IdentityRecord,
    JoinedPage,
    Page,
    QuarantinedMessage,
    RawRow,
    Record,
    RoomRecord,
    SessionRecord,
    StoredMessage,
    TokenRecord,
    UpstreamPosition,
)
from .migrations import SQLITE, to_signed, to_unsigned
from .rows import (
    IDENTITY_COLS,
    POSITION_COLS,
    QUARANTINE_COLS,
    WriteOp,
    identity_row,
    message_from_row,
    name_taken,
    now_ms,
    position_from_row,
    position_values,
    quarantine_values,
    quarantined_from_row,
    room_from_row,
    room_values,
    settle,
    token_from_row,
)
from .sqlite_delivery import SQLiteDelivery
from .sqlite_pages import EVENT_COLS, JoinedScan, PageScan, read_page, tail_rows
from .tail import TailCache

log = logging.getLogger(__name__)

_Fn = Callable[[sqlite3.Connection], Any]
_Op = WriteOp[_Fn]


@dataclass(slots=True)
class _Commit:
    """What a committed batch published: new last seq per room, new rows of cached rooms."""

    last: dict[int, int]
    rows: list[StoredMessage]
    covered: frozenset[int]


_EVENT_COLS = EVENT_COLS
# every room's newest seq by a loose index scan (one index descent per room), not a scan of the
# whole (fat, covering) events_room_page index as GROUP BY room_id would do
_LAST_SEQS = """
WITH RECURSIVE r(room_id) AS (
    SELECT min(room_id) FROM events
    UNION ALL
    SELECT (SELECT min(room_id) FROM events WHERE room_id > r.room_id) FROM r
    WHERE r.room_id IS NOT NULL
)
SELECT room_id, (SELECT max(seq) FROM events WHERE room_id = r.room_id) FROM r
WHERE room_id IS NOT NULL
"""
#: Pages up to this size start on the event loop thread (one chunk of SQL, no thread hop).
LOOP_READ_LIMIT = 200
_TOKEN_COLS = "id, name, digest, room_limit, rate, created_at, revoked_at"
_ROOM_COLS = (
    "room_id, web_rid, status, anchor_uid, anchor_sec_uid, anchor_nickname, title, updated_at"
)


class SQLiteStore(SQLiteDelivery, EventStore):
    """``SQLiteStore(path)``; use as ``async with`` or call :meth:`open` / :meth:`close`.

    ``busy_timeout``: seconds a write waits for another process's lock before it fails (as a
    transient StoreError the caller may retry).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        readers: int = 4,
        max_batch: int = 1024,
        synchronous: str = "NORMAL",
        tail_size: int = 256,
        tail_rooms: int = 1024,
        position_delay: float = 0.1,
        busy_timeout: float = 5.0,
    ) -> None:
        self.path = str(path)
        self._readers = readers
        self._max_batch = max_batch
        self._synchronous = synchronous
        self._queue: asyncio.Queue[_Op | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._wexec = ThreadPoolExecutor(1, thread_name_prefix="dylive-sqlite-w")
        self._rexec = ThreadPoolExecutor(readers, thread_name_prefix="dylive-sqlite-r")
        self._wconn: sqlite3.Connection | None = None
        self._local = threading.local()
        self._rconns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._last: dict[int, int] = {}  # room_id -> highest seq
        self._max_seq = 0
        # writer thread, per batch: rows appends inserted (room -> ascending), rooms to SELECT
        self._known: dict[int, list[StoredMessage]] = {}
        self._unknown: set[int] = set()
        self._signals: dict[int, asyncio.Event] = {}
        self._pending_pos: dict[tuple[int, int], int] = {}
        self._position_delay = position_delay
        self._busy_ms = int(busy_timeout * 1000)
        self.tail = TailCache(tail_size, tail_rooms)
        self._watch: sqlite3.Connection | None = None  # PRAGMA data_version, loop thread only
        self._lconn: sqlite3.Connection | None = None  # small page reads, loop thread only
        self._tokens: dict[str, tuple[int, TokenRecord | None]] = {}
        self._version: int | None = None  # PRAGMA data_version as read in this loop batch
        self.batches = 0
        self.appended = 0

    # -- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._wexec, self._open_writer)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        self._watch = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # the loop thread never waits for a lock: a busy database sends the read to a thread
        self._lconn = self._reader_connection(busy_ms=0)
        self._writer = asyncio.create_task(self._write_loop(), name="dylive-sqlite-writer")

    def _open_writer(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        self._migrate(conn)
        for room_id, seq in conn.execute(_LAST_SEQS):
            self._last[to_unsigned(room_id)] = seq
        self._max_seq = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        self._wconn = conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(SQLITE[version:], start=version + 1):
            log.info("sqlite: applying migration %s", number)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        if self._writer is not None:
            self._flush_positions()
            await self._queue.put(None)
            await self._writer
            self._writer = None
        loop = asyncio.get_running_loop()
        # reads still running (a cancelled request's query goes on in its thread) finish before
        # their connections close: closing a connection under a running query crashes SQLite
        await loop.run_in_executor(self._wexec, self._rexec.shutdown, True)
        await loop.run_in_executor(self._wexec, self._close_all)
        self._wexec.shutdown(wait=True)
        for conn in (self._watch, self._lconn):  # the loop thread's own connections
            if conn is not None:
                conn.close()
        self._watch = self._lconn = None

    def _close_all(self) -> None:
        if self._wconn is not None:
            self._wconn.close()
            self._wconn = None
        with self._lock:
            for conn in self._rconns:
                conn.close()
            self._rconns.clear()

    # -- writer -------------------------------------------------------------------------------
    async def _submit(self, fn: _Fn, rooms: tuple[int, ...] = (), *, wait: bool = True) -> Any:
        if self._writer is None:
            raise StoreError("store is not open")
        future: asyncio.Future[Any] | None = (
            asyncio.get_running_loop().create_future() if wait else None
        )
        self._queue.put_nowait(_Op(fn, future, rooms))
        return await future if future is not None else None

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        stop = False
        while not stop:
            op = await self._queue.get()
            if op is None:
                break
            batch = [op]
            while len(batch) < self._max_batch and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            try:
                results, commit = await loop.run_in_executor(self._wexec, self._run_batch, batch)
                self._publish(commit)
            except Exception as exc:  # commit failed: every op of the batch failed
                log.warning("sqlite: batch of %s ops failed: %s", len(batch), exc)
                results = [_error(exc)] * len(batch)
            self._finish(batch, results)

    def _publish(self, commit: _Commit) -> None:
        """On the loop thread, in one step: new last seqs and the tail cache."""
        self.tail.extend(commit.rows, commit.covered)
        self.tail.drop(r for r in commit.last if r not in commit.covered)
        for room_id, seq in commit.last.items():
            self._last[room_id] = max(seq, self._last.get(room_id, 0))

    def _run_batch(self, batch: list[_Op]) -> tuple[list[Any], _Commit]:
        conn = self._wconn
        assert conn is not None
        results: list[Any] = []
        self._known, self._unknown = {}, set()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for op in batch:
                conn.execute("SAVEPOINT op")
                try:
                    results.append(op.fn(conn))
                except Exception as exc:  # one bad op fails alone, whole
                    error = _error(exc)
                    if error.transient:  # the database, not the op: the whole batch fails
                        raise
                    conn.execute("ROLLBACK TO op")
                    results.append(error)
                conn.execute("RELEASE op")
            # NOT INDEXED: the planner would otherwise scan the whole (room_id, seq) index to
            # group by room_id, on every commit; the rowid range reads the new rows only
            rows = conn.execute(
                "SELECT room_id, max(seq) FROM events NOT INDEXED WHERE seq > ? GROUP BY room_id",
                (self._max_seq,),
            ).fetchall()
            commit = self._new_rows(conn, rows)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        for _room_id, seq in rows:
            self._max_seq = max(self._max_seq, seq)
        self.batches += 1
        return results, commit

    def _remember(self, records: Sequence[Record], newest: int, stored_at: int) -> None:
        """Writer thread: the StoredMessages an append just inserted (``newest``: the seq of its
        last row), for :meth:`_new_rows` (called last in the op: a failed op never gets here)."""
        first = newest - len(records) + 1
        known = self._known
        for i, r in enumerate(records):
            row = StoredMessage(
                first + i, r.room_id, r.msg_id, r.method, r.created_at, stored_at, r.rendered
            )
            rows = known.get(r.room_id)
            if rows is None:
                known[r.room_id] = [row]
            else:
                rows.append(row)

    def _new_rows(self, conn: sqlite3.Connection, rows: list[tuple[int, int]]) -> _Commit:
        """The batch's new rows of the rooms the tail cache holds (read before COMMIT,
        published only after it)."""
        last = {to_unsigned(room_id): seq for room_id, seq in rows}
        cached = self.tail.cached
        covered = frozenset(r for r in last if r in cached)
        if not covered:
            return _Commit(last, [], covered)
        out: list[StoredMessage] = []
        select: list[int] = []
        for room_id in covered:  # rows the batch's appends built themselves (see append)
            known = self._known.get(room_id)
            if room_id in self._unknown or not known or known[-1].seq != last[room_id]:
                select.append(room_id)
            else:
                out.extend(known)
        if select:
            marks = ",".join("?" * len(select))
            new = conn.execute(
                f"SELECT {_EVENT_COLS} FROM events WHERE seq > ? AND room_id IN ({marks})"
                " ORDER BY seq",
                (self._max_seq, *(to_signed(r) for r in select)),
            ).fetchall()
            out.extend(message_from_row(row) for row in new)
        return _Commit(last, out, covered)

    def _finish(self, batch: list[_Op], results: list[Any]) -> None:
        self._version = None  # this store committed: read data_version again
        for room_id in settle(batch, results, "sqlite"):
            signal = self._signals.pop(room_id, None)
            if signal is not None:
                signal.set()

    # -- readers ------------------------------------------------------------------------------
    def _reader_connection(self, busy_ms: int = 5000) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA query_only=1")
        conn.execute(f"PRAGMA busy_timeout={busy_ms}")
        return conn

    def _rconn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._reader_connection()
            self._local.conn = conn
            with self._lock:
                self._rconns.append(conn)
        return conn

    async def _point(self, sql: str, args: tuple[Any, ...]) -> Any:
        """One row by a unique key (one index descent): on the loop thread, no thread hop."""
        if self._lconn is not None:
            with contextlib.suppress(sqlite3.OperationalError):  # busy: on a thread instead
                return self._lconn.execute(sql, args).fetchone()
        return await self._query(lambda conn: conn.execute(sql, args).fetchone())

    async def _query(self, fn: _Fn) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._rexec, lambda: fn(self._rconn()))
        except sqlite3.Error as exc:
            raise StoreError(f"read failed: {exc}") from exc

    # -- messages -----------------------------------------------------------------------------
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
        rows = [
            (
                to_signed(r.room_id),
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

        def insert(conn: sqlite3.Connection) -> int | LeaseLost:
            if fence is not None:
                row = conn.execute(
                    "SELECT owner, epoch FROM fleet_rooms WHERE room_id = ?", (fenced,)
                ).fetchone()
                if row is None or (row[0], row[1]) != (fence.node, fence.epoch):
                    return LeaseLost(to_unsigned(fenced), fence.node, fence.epoch)
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO events (room_id, msg_id, method, created_at, stored_at,"
                " rendered, raw) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            inserted = conn.total_changes - before
            # read now: the position's INSERT below moves last_insert_rowid() to its own row
            newest = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            if pos is not None:
                conn.execute(
                    f"INSERT OR REPLACE INTO upstream_positions ({POSITION_COLS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    pos,
                )
            if inserted == len(records):  # no duplicate: consecutive seqs (AUTOINCREMENT,
                if records:  # one writer), so the tail cache needs no SELECT of them
                    self._remember(records, newest, stored_at)
            else:
                self._unknown.update(r.room_id for r in records)
            return inserted

        rooms = tuple({r.room_id for r in records})
        if self.tail.size > 0:
            for room_id in rooms:
                if room_id not in self.tail.cached:
                    self.tail.track(room_id, self._last.get(room_id, 0))
        inserted: int = await self._submit(insert, rooms)
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
            )
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
        scan = JoinedScan(to_signed(room_id), after_seq, limit, methods)
        if limit <= LOOP_READ_LIMIT and self._lconn is not None:
            with contextlib.suppress(sqlite3.OperationalError):  # busy: all on a thread
                if scan.step(self._lconn):  # the common case: one statement, on this thread
                    return scan.page()
        done: JoinedScan = await self._query(scan.run)  # the rest on a reader thread
        return done.page()

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
        signal = self._signals.setdefault(room_id, asyncio.Event())
        if self._last.get(room_id, 0) > after_seq:
            return True
        try:
            await asyncio.wait_for(signal.wait(), within)
        except TimeoutError:
            return self._last.get(room_id, 0) > after_seq
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
                return [(m.seq, m.msg_id, m.method, m.created_at, m.rendered) for m in cached]
        sql = ses.q(ses.SCAN_RENDERED if rendered else ses.SCAN)
        args = (to_signed(room_id), after_seq, limit)
        rows = await self._query(lambda conn: conn.execute(sql, args).fetchall())
        return [ses.raw_row(row) for row in rows]

    async def prune(self, older_than_ms: int) -> int:
        def delete(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT seq FROM events WHERE stored_at >= ? ORDER BY seq LIMIT 1",
                (older_than_ms,),
            ).fetchone()
            if row is None:
                cur = conn.execute("DELETE FROM events WHERE stored_at < ?", (older_than_ms,))
            else:
                cur = conn.execute("DELETE FROM events WHERE seq < ?", (row[0],))
            return cur.rowcount

        deleted: int = await self._submit(delete)
        if deleted:
            self.tail.clear()  # the tail may hold pruned rows
        return deleted

    # -- rooms --------------------------------------------------------------------------------
    async def upsert_room(self, room: RoomRecord) -> None:
        values = room_values(room)
        await self._submit(
            lambda conn: conn.execute(
                f"INSERT OR REPLACE INTO rooms ({_ROOM_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
        )

    async def find_room(self, *, room_id: int = 0, web_rid: str = "") -> RoomRecord | None:
        args: tuple[object, ...]
        if room_id:
            sql, args = f"SELECT {_ROOM_COLS} FROM rooms WHERE room_id = ?", (to_signed(room_id),)
        else:
            sql = f"SELECT {_ROOM_COLS} FROM rooms WHERE web_rid = ? ORDER BY updated_at DESC"
            args = (web_rid,)
        row = await self._query(lambda conn: conn.execute(sql, args).fetchone())
        return room_from_row(row) if row else None

    # -- tokens -------------------------------------------------------------------------------
    async def create_token(self, name: str, digest: str, room_limit: int, rate: float) -> int:
        def insert(conn: sqlite3.Connection) -> int | StoreError:
            taken = conn.execute(
                "SELECT id FROM tokens WHERE name = ? AND revoked_at = 0", (name,)
            ).fetchone()
            if taken is not None:
                return name_taken(name, taken[0])
            cur = conn.execute(
                "INSERT INTO tokens (name, digest, room_limit, rate, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, digest, room_limit, rate, now_ms()),
            )
            return int(cur.lastrowid or 0)

        token_id: int = await self._submit(insert)
        return token_id

    async def token_by_digest(self, digest: str) -> TokenRecord | None:
        """Cached while the database is unchanged (``PRAGMA data_version`` of the watch
        connection moves on every commit of any other connection, in any process)."""
        version = self._data_version()
        hit = self._tokens.get(digest)
        if hit is not None and hit[0] == version >= 0:
            return hit[1]
        row = await self._point(f"SELECT {_TOKEN_COLS} FROM tokens WHERE digest = ?", (digest,))
        record = token_from_row(row) if row else None
        if len(self._tokens) >= 10_000:
            self._tokens.clear()
        self._tokens[digest] = (version, record)
        return record

    def _data_version(self) -> int:
        """A counter that changes whenever another connection committed (-1: no watch).

        Read at most once per batch of event-loop callbacks (forgotten by a callback queued
        behind the batch, and by every commit of this store): the requests handled in one
        batch were all received before it began, so a commit of another process that this
        value misses is concurrent with each of them, and one of this store (a revocation
        through the API) is seen by every request after it."""
        if self._watch is None:
            return -1
        version = self._version
        if version is None:
            try:
                version = int(self._watch.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error as exc:
                raise StoreError(f"read failed: {exc}") from exc
            self._version = version
            asyncio.get_running_loop().call_soon(self._forget_version)
        return version

    def _forget_version(self) -> None:
        self._version = None

    async def list_tokens(self) -> list[TokenRecord]:
        rows = await self._query(
            lambda conn: conn.execute(f"SELECT {_TOKEN_COLS} FROM tokens ORDER BY id").fetchall()
        )
        return [token_from_row(r) for r in rows]

    async def revoke_token(self, ident: str | int) -> int:
        column = "id" if isinstance(ident, int) else "name"

        def revoke(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                f"UPDATE tokens SET revoked_at = ? WHERE revoked_at = 0 AND {column} = ?",
                (now_ms(), ident),
            )
            return cur.rowcount

        count: int = await self._submit(revoke)
        return count

    # -- positions ----------------------------------------------------------------------------
    async def get_position(self, token_id: int, room_id: int) -> int | None:
        pending = self._pending_pos.get((token_id, room_id))
        row = await self._point(
            "SELECT seq FROM positions WHERE token_id = ? AND room_id = ?",
            (token_id, to_signed(room_id)),
        )
        stored = int(row[0]) if row else None
        if pending is not None:
            return max(pending, stored or 0)
        return stored

    async def set_position(self, token_id: int, room_id: int, seq: int, *, wait: bool) -> None:
        """Awaited writes commit before returning; unawaited ones are coalesced per
        (token, room) and written ``position_delay`` seconds later (or at close)."""
        key = (token_id, room_id)
        with self._lock:
            first = not self._pending_pos
            self._pending_pos[key] = max(seq, self._pending_pos.get(key, 0))
        if wait:
            await self._submit(self._write_positions)
        elif first:  # debounced: one writer op per interval, however many polls
            asyncio.get_running_loop().call_later(self._position_delay, self._flush_positions)

    def _flush_positions(self) -> None:
        if self._writer is not None and self._pending_pos:
            self._queue.put_nowait(_Op(self._write_positions, None))

    def _write_positions(self, conn: sqlite3.Connection) -> int:
        with self._lock:
            pending, self._pending_pos = self._pending_pos, {}
        conn.executemany(
            "INSERT INTO positions (token_id, room_id, seq) VALUES (?, ?, ?)"
            " ON CONFLICT (token_id, room_id) DO UPDATE SET seq = max(seq, excluded.seq)",
            [(t, to_signed(r), seq) for (t, r), seq in pending.items()],
        )
        return len(pending)

    # -- pins ---------------------------------------------------------------------------------
    async def set_pin(self, ident: str, pinned: bool) -> None:
        sql = (
            "INSERT OR IGNORE INTO pins (ident) VALUES (?)"
            if pinned
            else ("DELETE FROM pins WHERE ident = ?")
        )
        await self._submit(lambda conn: conn.execute(sql, (ident,)))

    async def pins(self) -> list[str]:
        rows = await self._query(
            lambda conn: conn.execute("SELECT ident FROM pins ORDER BY ident").fetchall()
        )
        return [r[0] for r in rows]

    # -- sessions (analytics) -----------------------------------------------------------------
    async def open_session(self, session: SessionRecord) -> SessionRecord:
        args = ses.insert_args(session)
        await self._submit(lambda conn: conn.execute(ses.q(ses.INSERT), args))
        found = await self.get_session(room_id=session.room_id)
        assert found is not None
        return found

    async def save_session(self, session: SessionRecord, expected_seq: int) -> bool:
        args = ses.save_args(session, expected_seq)
        changed: int = await self._submit(lambda conn: conn.execute(ses.q(ses.SAVE), args).rowcount)
        return changed == 1

    async def get_session(self, *, session_id: int = 0, room_id: int = 0) -> SessionRecord | None:
        sql, key = (ses.BY_ID, session_id) if session_id else (ses.BY_ROOM, to_signed(room_id))
        row = await self._query(lambda conn: conn.execute(ses.q(sql), (key,)).fetchone())
        return ses.session_from_row(row) if row else None

    async def list_sessions(self, *, web_rid: str = "", room_id: int = 0) -> list[SessionRecord]:
        sql, args = ses.list_query(web_rid, room_id, sqlite=True)
        rows = await self._query(lambda conn: conn.execute(ses.q(sql), args).fetchall())
        return [ses.session_from_row(row) for row in rows]

    # -- identities ---------------------------------------------------------------------------
    async def save_identity(self, identity: IdentityRecord) -> None:
        sql = f"INSERT OR REPLACE INTO identities ({IDENTITY_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)"
        row = identity_row(identity)
        await self._submit(lambda conn: conn.execute(sql, row))

    async def identities(self) -> list[IdentityRecord]:
        sql = f"SELECT {IDENTITY_COLS} FROM identities ORDER BY name"
        rows = await self._query(lambda conn: conn.execute(sql).fetchall())
        return [IdentityRecord(*row) for row in rows]

    async def remove_identity(self, name: str) -> int:
        sql = "DELETE FROM identities WHERE name = ?"
        count: int = await self._submit(lambda conn: conn.execute(sql, (name,)).rowcount)
        return count

    async def set_identity_state(
        self, name: str, *, state: str, cooldown_until: int, strikes: int, note: str
    ) -> None:
        sql = (
            "UPDATE identities SET state = ?, cooldown_until = ?, strikes = ?, note = ? "
            "WHERE name = ?"
        )
        args = (state, cooldown_until, strikes, note, name)
        await self._submit(lambda conn: conn.execute(sql, args))


#: Kept for callers that compare against a plain SQL page (tests).
_read_page = read_page


def _fenced_room(records: Sequence[Record], position: UpstreamPosition | None) -> int:
    """The (signed) room a fenced write is for: its records' room, else its position's."""
    return to_signed(records[0].room_id if records else position.room_id if position else 0)


#: Failures caused by the data of one operation (a value out of range, a type SQLite cannot
#: bind, a constraint): retrying the same operation cannot succeed. Every other failure (locked,
#: busy, I/O error, disk full, a schema changed under us) is the database's: transient.
_PERMANENT = (
    OverflowError,
    ValueError,
    TypeError,
    sqlite3.IntegrityError,
    sqlite3.DataError,
    sqlite3.InterfaceError,
)


def _error(exc: BaseException) -> StoreError:
    """A StoreError for a failed write, ``transient`` when a retry may succeed."""
    return StoreError(f"write failed: {exc}", transient=not isinstance(exc, _PERMANENT))
