"""The SQLite engine under :class:`~dylive.store.sqlite.SQLiteStore`: connections, the one
batching writer task and the tail cache it feeds; the queries of each concern are in the
sibling modules (``events``, ``rooms``, ``tokens``, ``positions``, ``outbox``, ``sessions``,
``identities``), each a subclass of :class:`SQLiteEngine`.

One writer: every write is queued to a single task that batches whatever is pending into one
transaction on a dedicated thread (WAL mode, ``synchronous=NORMAL`` by default: durable across a
process crash). Reads run on a small pool of threads, each with its own read-only connection,
never on the event loop. Keyset reads (``seq > ?``), never OFFSET.

Two in-memory fast paths keep live polling off the reader threads: the committed tail of each
polled room (:class:`~dylive.store.tail.TailCache`, fed by the writer after each commit) and
token records, cached until the token change mark (``<db>-tokens``, :mod:`.tokenmark`) moves:
any token write by dylive, in this process or another one such as ``dylive token revoke``,
rewrites it after its commit, so the next lookup sees the change; writers that do not know the
mark are caught by the tokens table's change counter (``token_generation``) within a quarter second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dylive import settings
from dylive.errors import StoreError

from ..health import HealthProbe, WriterProgress
from ..migrations import SQLITE, to_signed, to_unsigned
from ..records import StoredMessage, TokenRecord
from ..rows import WriteOp, drain_batches, message_from_row, settle
from ..tail import TailCache
from ..waiters import Waiters
from .appends import Append, insert, run_appends
from .checkpointer import Checkpointer
from .pages import EVENT_COLS

log = logging.getLogger(__name__)

Fn = Callable[[sqlite3.Connection], Any]
#: a writer op (annotations only: calling the subscripted alias costs ~0.7 µs more than WriteOp)
Op = WriteOp[Fn]


@dataclass(slots=True)
class _Commit:
    """What a committed batch published: new last seq per room, new rows of cached rooms."""

    last: dict[int, int]
    rows: list[StoredMessage]
    covered: frozenset[int]


_EVENT_COLS = EVENT_COLS
# every room's newest seq by a loose index scan (one index descent per room), not a scan of the
# whole events_room_seq index as GROUP BY room_id would do
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
# WAL pages of 4 KiB between automatic checkpoints (SQLite's default: 1,000 pages); a database of
# bigger pages checkpoints after the same bytes (40 MB: 2,500 pages of 16 KiB). The rows of many rooms land
# on different index leaves, so each commit dirties a few pages per row; a checkpoint copies every
# page changed since the last one back into the database once, however often it changed in the
# WAL: 10,000 pages (a WAL of ~40 MB) cut the writer's CPU per row by a fifth to a quarter at
# 200 rooms (docs/benchmarks.md, "The writer's checkpoints").
WAL_AUTOCHECKPOINT = 10_000
# With background checkpoints (the default) the checkpointer thread copies pages every quarter of
# WAL_AUTOCHECKPOINT and restarts the WAL at WAL_AUTOCHECKPOINT; the writer's own automatic
# checkpoint only runs past this many times that, as a safety net (docs/benchmarks.md,
# "Checkpoints off the writer thread").
WAL_HARD_CAP = 4
# Page size of a NEW database (SQLite's default). A database keeps the page size it was created
# with (a WAL database cannot change it). 16 KiB made a history page read in process 5-10 %
# cheaper but nothing measurable at system level and the writer no cheaper (docs/benchmarks.md,
# "Sixth session"): kept at 4 KiB.
PAGE_SIZE = 4_096


def _statements(script: str) -> list[str]:
    """The statements of a migration script, split at the semicolons that end one (a trigger's
    body holds semicolons of its own: ``sqlite3.complete_statement`` tells them apart)."""
    out: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                out.append(buffer)
            buffer = ""
    if buffer.strip(" \n;"):
        raise ValueError(f"incomplete statement in a migration: {buffer.strip()[:80]!r}")
    return out


class SQLiteEngine(HealthProbe):
    """``SQLiteEngine(path)``: the engine state and plumbing every concern module builds on.

    ``busy_timeout``: seconds a write waits for another process's lock before it fails (as a
    transient StoreError the caller may retry). ``background_checkpoints``: WAL checkpoints on a
    thread of their own (``checkpointer.py``), the writer's own automatic checkpoint only past
    ``wal_hard_cap`` times ``wal_autocheckpoint``; off, the writer checkpoints at
    ``wal_autocheckpoint`` inside its commits.
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
        commit_interval: float | None = None,
        wal_autocheckpoint: int = WAL_AUTOCHECKPOINT,
        page_size: int = PAGE_SIZE,
        background_checkpoints: bool = True,
        wal_hard_cap: int = WAL_HARD_CAP,
    ) -> None:
        self.path = str(path)
        #: group commit (see ``rows.drain_batches``; default: the ``commit_interval`` setting)
        self.commit_interval = (
            settings.number("commit_interval") if commit_interval is None else commit_interval
        )
        self._readers = readers
        self._max_batch = max_batch
        self._synchronous = synchronous
        self._checkpoint = int(wal_autocheckpoint)
        self._page_size = int(page_size)
        self._background = background_checkpoints
        self._hard_cap = wal_hard_cap
        #: held by the writer thread around each transaction; the checkpointer takes it for the
        #: short RESTART checkpoint that lets the WAL start again (see ``checkpointer.py``)
        self._gate = threading.Lock()
        self.checkpointer: Checkpointer | None = None
        self._queue: asyncio.Queue[Op | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._wexec = ThreadPoolExecutor(1, thread_name_prefix="dylive-sqlite-w")
        self._rexec = ThreadPoolExecutor(readers, thread_name_prefix="dylive-sqlite-r")
        self._wconn: sqlite3.Connection | None = None
        self._local = threading.local()
        self._rconns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._last: dict[int, int] = {}  # room_id -> highest seq
        self._max_seq = 0
        self._wal_frames = 0  # WAL frames of ``wal_autocheckpoint`` (its 4 KiB pages) at open
        # writer thread, per batch: rows appends inserted (room -> ascending), rooms to SELECT
        self._known: dict[int, list[StoredMessage]] = {}
        self._unknown: set[int] = set()
        self.waiters = Waiters()  # long-poll waits (wait_for), woken by _finish
        self._pending_pos: dict[tuple[int, int], int] = {}
        self._position_delay = position_delay
        self._busy_ms = int(busy_timeout * 1000)
        self.tail = TailCache(tail_size, tail_rooms)
        self.progress = WriterProgress()
        self._watch: sqlite3.Connection | None = None  # token_generation reads, loop thread only
        self._lconn: sqlite3.Connection | None = None  # small page reads, loop thread only
        self._tokens: dict[str, tuple[int, TokenRecord | None]] = {}
        self._generation: int | None = None  # token_generation as read in this loop batch
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
        if self._background:
            frames = max(4, self._wal_frames)
            self.checkpointer = Checkpointer(
                self.path, self._gate, passive=frames // 4, restart=frames
            )
            self.checkpointer.start()
        self._writer = asyncio.create_task(self._write_loop(), name="dylive-sqlite-writer")

    def _open_writer(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # before anything writes the file: a no-op on a database that exists
        conn.execute(f"PRAGMA page_size={self._page_size}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        # this SQLite build defaults to secure_delete=ON: a page a delete frees (retention) is
        # written, zeroed, through the WAL; FAST zeroes deleted content only on the b-tree pages
        # the delete writes anyway: 7 % fewer WAL bytes a pruned message, 13 % a usage row
        # (docs/benchmarks.md, "Seventh session"; docs/architecture.md, "Deleted data")
        conn.execute("PRAGMA secure_delete=FAST")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        self._wal_frames = self._checkpoint * 4096 // page
        cap = self._hard_cap if self._background else 1
        conn.execute(f"PRAGMA wal_autocheckpoint={max(1, cap * self._checkpoint * 4096 // page)}")
        self._migrate(conn)
        for room_id, seq in conn.execute(_LAST_SEQS):
            self._last[to_unsigned(room_id)] = seq
        self._max_seq = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        self._wconn = conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        # a step may set secure_delete for its own work (steps 15, 16: FAST, so that dropping an
        # index does not write every freed page, zeroed, into the WAL): restored after
        secure = conn.execute("PRAGMA secure_delete").fetchone()[0]
        try:
            for number, script in enumerate(SQLITE[version:], start=version + 1):
                log.info("sqlite: applying migration %s", number)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _statements(script):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={number}")
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        finally:
            # by name: the number 2 reads as a true boolean (ON), not as FAST
            conn.execute(f"PRAGMA secure_delete={('OFF', 'ON', 'FAST')[secure]}")

    async def close(self) -> None:
        await self._stop_probe()
        if self._writer is not None:
            self._flush_positions()
            await self._queue.put(None)
            await self._writer
            self._writer = None
        if self.checkpointer is not None:  # stopped, kept for its stats
            await asyncio.to_thread(self.checkpointer.stop)
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
    async def _submit(
        self, fn: Fn, rooms: tuple[int, ...] = (), *, wait: bool = True, pure: bool = False
    ) -> Any:
        """Queue ``fn`` for the writer; ``pure``: see ``WriteOp.pure`` and :meth:`_run_batch`."""
        if self._writer is None:
            raise StoreError("store is not open")
        future: asyncio.Future[Any] | None = (
            asyncio.get_running_loop().create_future() if wait else None
        )
        self._queue.put_nowait(WriteOp(fn, future, rooms, pure=pure))
        return await future if future is not None else None

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        async for batch in drain_batches(
            self._queue, self._max_batch, self.progress, self.commit_interval
        ):
            try:
                results, commit = await loop.run_in_executor(self._wexec, self._run_batch, batch)
                self._publish(commit)
            except Exception as exc:  # commit failed: every op of the batch failed
                log.warning("sqlite: batch of %s ops failed: %s", len(batch), exc)
                results = [_error(exc)] * len(batch)
            self._finish(batch, results)

    async def _delete_batch(self, sql: str, args: tuple[int, ...]) -> int:
        """One batch of a retention delete (``store.usage.delete_in_batches``), a write of its
        own; the rows deleted."""
        deleted: int = await self._submit(lambda conn: conn.execute(sql, args).rowcount)
        return deleted

    def _publish(self, commit: _Commit) -> None:
        """On the loop thread, in one step: new last seqs and the tail cache."""
        self.tail.extend(commit.rows, commit.covered)
        self.tail.drop(r for r in commit.last if r not in commit.covered)
        for room_id, seq in commit.last.items():
            self._last[room_id] = max(seq, self._last.get(room_id, 0))

    def _run_batch(self, batch: list[Op]) -> tuple[list[Any], _Commit]:
        """One transaction for the batch. Each op runs inside its own savepoint, so that one bad
        op fails alone, whole; a batch of pure ops (appends, positions: ``WriteOp.pure``) first
        runs without them — a savepoint per op copies every page the op changes into a
        statement journal: 10–15 % of the writer's CPU per row (docs/benchmarks.md, "Fourth
        session"). If one of those ops fails, the transaction is rolled back and the batch run
        again with a savepoint per op: the same results as if it had been guarded from the
        start. Run unguarded, the batch's appends go in together (``appends.run_appends``)."""
        conn = self._wconn
        assert conn is not None
        with self._gate:
            if all(op.pure for op in batch):
                with contextlib.suppress(_Retry):
                    return self._run_ops(conn, batch, guarded=False)
            return self._run_ops(conn, batch, guarded=True)

    def _run_ops(
        self, conn: sqlite3.Connection, batch: list[Op], *, guarded: bool
    ) -> tuple[list[Any], _Commit]:
        results: list[Any] = []
        self._known, self._unknown = {}, set()
        group: list[Append] = []  # unfenced appends, run last (a room is all fenced or none)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for op in batch:
                if not guarded and type(op.fn) is Append and op.fn.fence is None:
                    group.append(op.fn)
                    results.append(group)  # a slot, filled below
                    continue
                if guarded:
                    conn.execute("SAVEPOINT op")
                try:
                    results.append(op.fn(conn))
                except Exception as exc:  # one bad op fails alone, whole
                    error = _error(exc)
                    if error.transient:  # the database, not the op: the whole batch fails
                        raise
                    if not guarded:  # nothing to roll back to: all of it, then guarded
                        raise _Retry from exc
                    conn.execute("ROLLBACK TO op")
                    results.append(error)
                if guarded:
                    conn.execute("RELEASE op")
            follows = False  # every new row is one of the group's, _known has them all
            if group:
                try:
                    done = run_appends(conn, group, self._max_seq)
                except Exception as exc:
                    if _error(exc).transient:
                        raise
                    done = None
                if done is None:  # a duplicate or a bad row: each append alone, guarded
                    raise _Retry
                counts = iter(done[0])
                results = [next(counts) if r is group else r for r in results]
                follows = done[1] and len(group) == sum(type(op.fn) is Append for op in batch)
            if follows:
                rows = [(to_signed(room), new[-1].seq) for room, new in self._known.items()]
            else:  # NOT INDEXED: the planner would otherwise scan the whole (room_id, seq)
                # index to group by room_id; the rowid range reads the new rows only
                rows = conn.execute(
                    "SELECT room_id, max(seq) FROM events NOT INDEXED WHERE seq > ?"
                    " GROUP BY room_id",
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

    def _finish(self, batch: list[Op], results: list[Any]) -> None:
        self._generation = None  # this store committed: read token_generation again
        wake = self.waiters.wake
        for room_id in settle(batch, results, "sqlite"):
            wake(room_id)

    # -- coalesced token read positions (see positions.SQLitePositions.set_position) ---------
    def _flush_positions(self) -> None:
        if self._writer is not None and self._pending_pos:
            self._queue.put_nowait(WriteOp(self._positions_op(), None, pure=True))

    def _positions_op(self) -> Fn:
        """A writer op that writes the pending positions: it takes them the first time it runs
        and writes the same ones if its batch runs again (pure: see ``WriteOp.pure``)."""
        taken: dict[tuple[int, int], int] | None = None

        def write(conn: sqlite3.Connection) -> int:
            nonlocal taken
            if taken is None:
                with self._lock:
                    taken, self._pending_pos = self._pending_pos, {}
            insert(  # statements of several rows (see appends.insert)
                conn,
                "INSERT INTO positions (token_id, room_id, seq) VALUES ",
                [(t, to_signed(r), seq) for (t, r), seq in taken.items()],
                " ON CONFLICT (token_id, room_id) DO UPDATE SET seq = max(seq, excluded.seq)",
            )
            return len(taken)

        return write

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

    async def _ping_read(self) -> None:
        await self._query(lambda conn: conn.execute("SELECT 1").fetchone())

    async def _ping_write(self) -> None:
        await self._submit(lambda conn: conn.execute("SELECT 1"), pure=True)

    async def _query(self, fn: Fn) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._rexec, lambda: fn(self._rconn()))
        except sqlite3.Error as exc:
            raise StoreError(f"read failed: {exc}") from exc


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


class _Retry(Exception):
    """An op of an unguarded batch failed alone: the batch is rolled back, to run again guarded."""


def _error(exc: BaseException) -> StoreError:
    """A StoreError for a failed write, ``transient`` when a retry may succeed."""
    return StoreError(f"write failed: {exc}", transient=not isinstance(exc, _PERMANENT))
