"""The PostgreSQL engine under :class:`~dylive.store.postgres.PostgresStore`: the writer
connection and its batching task, the reader pool (``pool``), LISTEN/NOTIFY and the tail and
token caches' wiring (``cache``); the queries of each concern are in the sibling modules, each a
subclass of :class:`PostgresEngine`.

Same semantics as :class:`~dylive.store.sqlite.SQLiteStore`, and safe for several processes
sharing one database:

- One writer task per process batches every pending write into one transaction (durable
  commits: ``synchronous_commit`` as the server sets it, ``on`` by default). The appends of a
  batch are combined: one ``INSERT … SELECT FROM unnest(…) WHERE NOT EXISTS …`` statement
  checks the fences, inserts the records, stores the upstream positions and notifies
  (:mod:`~dylive.store.postgres.append`): four round trips per batch (BEGIN, ordering locks, the
  statement, COMMIT), whatever the number of rooms and messages.
- ``seq`` is a ``BIGSERIAL``. Transactions that insert messages first take a transaction-level
  advisory lock per room they write, so within a room seq values become visible in commit
  order across processes and a keyset reader (``seq > ?``) never skips a row that commits
  late; writers of different rooms (the nodes of a fleet) do not wait for each other.
  Duplicates may leave holes in seq (the sequence is consumed); seq is monotonic, not dense.
- ``wait_for`` works across processes: every committed insert sends ``NOTIFY`` on a channel
  named after the schema (``dylive_<schema>``) with ``<room_id>:<seq>``; a listener connection
  wakes the waiters, which then check the database. If the listener is down, waiters poll
  (those waiting when it drops are woken to poll).
- Ids: ``room_id``, ``msg_id`` and ``anchor_uid`` are unsigned 64-bit on the wire and stored in
  signed ``BIGINT`` columns through :func:`~dylive.store.migrations.to_signed` (identity below
  2^63, ``value - 2^64`` above); reads map them back, so callers only ever see unsigned ids.
  Uniqueness and equality are preserved (the mapping is a bijection); ordering by id is not used.
- Reads use a small pool of autocommit connections, never OFFSET except in ``backlog_start``;
  the chat pages' statements (``pages``) have ``page_statements`` connections of their own,
  driven on libpq directly (``pagewire``), which run the generic plan (``_connect_pages``).
- Schema versions are rows of ``dylive_schema``; migrations run under an advisory lock.

Select a schema with libpq's ``options``:
``postgresql://user@host/db?options=-csearch_path%3Ddylive``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from dylive import settings
from dylive.errors import StoreError

from ..dburl import redact
from ..health import HealthProbe, WriterProgress
from ..migrations import POSTGRES, to_signed, to_unsigned
from ..records import StoredMessage
from ..rows import WriteOp, drain_batches, message_from_row, now_ms, settle
from ..waiters import Waiters
from .append import Append, lock_rooms, run_appends, schema_salt
from .cache import SharedTail, TokenCache
from .pages import PageBatches
from .pagewire import PageWire
from .pool import Conn, Pool

log = logging.getLogger(__name__)

Fn = Callable[[Conn], Awaitable[Any]]
#: a writer op (annotations only: calling the subscripted alias costs ~0.7 µs more per op than
#: ``WriteOp(...)``, which is what the writers build)
Op = WriteOp[Fn]

#: A bulk read in seq order follows the (room_id, seq) index whatever the table's statistics:
#: without them (a table just filled, before autovacuum's ANALYZE) the planner takes a room's
#: page for a few thousand rows and reads every row after ``seq`` through a bitmap, then sorts
#: them all on disk to keep 50,000 (six times slower per page, measured); with the sort off it
#: takes the index.
UNSORTED = "enable_sort = off"

#: Columns of a StoredMessage row (``message_from_row``).
EVENT_COLS = "seq, room_id, msg_id, method, created_at, stored_at, rendered"


class PostgresEngine(HealthProbe):
    """``PostgresEngine(url)``: the engine state and plumbing every concern module builds on.

    ``poll_interval``: how often waiters re-check the database while the notification listener
    is down (seconds; default: the ``pg_poll_interval`` setting). While it is up, waiters wake
    on notifications only. ``page_statements``: chat-page statements run at once (``pages``;
    the pages asked for meanwhile queue for the next one); 1 and 2 were within the noise of
    each other on the 2-core machine (docs/benchmarks.md), 2 lets a page start while one
    statement runs.
    """

    def __init__(
        self,
        url: str,
        *,
        readers: int = 4,
        max_batch: int = 1024,
        connect_timeout: int = 10,
        poll_interval: float | None = None,
        tail_size: int = 256,
        tail_rooms: int = 1024,
        token_ttl: float = 5.0,
        writer_idle_timeout: float = 5.0,
        commit_interval: float | None = None,
        page_statements: int = 2,
    ) -> None:
        self.url = url
        #: group commit (see ``rows.drain_batches``; default: the ``commit_interval`` setting)
        self.commit_interval = (
            settings.number("commit_interval") if commit_interval is None else commit_interval
        )
        self._max_batch = max_batch
        self._connect_timeout = connect_timeout
        self._poll_interval = (
            settings.number("pg_poll_interval") if poll_interval is None else poll_interval
        )
        self._pool = Pool(self._connect, readers)
        #: the chat endpoint's pages of every method, read together under load (``pages``), on
        #: connections of their own (``pagewire``; ``_connect_pages``: generic plans)
        self._page_wire = PageWire(self._connect_pages, page_statements)
        self.pages = PageBatches(self._page_wire.run, inflight=page_statements)
        self._queue: asyncio.Queue[Op | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._listening = False
        self._wconn: Conn | None = None
        self._lconn: Conn | None = None  # the LISTEN connection (while connected)
        self._channel = ""
        self._salt = 0  # of the per-room ordering-lock keys
        self.waiters = Waiters()  # wait_for's waits, woken by commits and notifications
        self._pending_pos: dict[tuple[int, int], int] = {}
        self._written_pos: dict[tuple[int, int], int] = {}  # committed by this process
        self._commit_listeners: list[Callable[[int], None]] = []
        self.tail = SharedTail(tail_size, tail_rooms)
        self._writer_idle_timeout = writer_idle_timeout
        self._tokens = TokenCache(token_ttl)
        self.progress = WriterProgress()
        self.batches = 0
        self.appended = 0
        self.waiting = 0  # waits blocked until a commit or notification wakes them
        self.woken = 0  # waits a commit or notification woke
        self.wait_timeouts = 0  # waits that ran out (or re-checked while not listening)

    # -- lifecycle ----------------------------------------------------------------------------
    async def _connect(self) -> Conn:
        try:
            return await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=self._connect_timeout
            )
        except psycopg.Error as exc:
            raise StoreError(
                redact(f"cannot connect to {self.url}: {exc}"), transient=True
            ) from exc

    async def _connect_pages(self) -> Conn:
        """A page statement's connection: its prepared statement runs the generic plan. Under
        ``plan_cache_mode = auto`` the server planned it again at every execution (a custom plan
        sees the arrays' lengths, so it always looks cheaper than the generic plan, which
        assumes 10 pages): ~0.5 ms of planning, measured as 140 µs more backend CPU a
        statement (bench/pgpages.py, docs/benchmarks.md). The plan is the same either way: a
        ``(room_id, seq)`` index scan per page. Only page statements run here."""
        conn = await self._connect()
        try:
            await conn.execute("SET plan_cache_mode = force_generic_plan")
        except psycopg.Error as exc:
            await conn.close()
            raise StoreError(f"cannot set up {redact(self.url)}: {exc}", transient=True) from exc
        return conn

    async def _connect_writer(self) -> Conn:
        """The writer's connection: a transaction left open by a paused or partitioned process
        is ended by the server after ``writer_idle_timeout`` (it holds the ordering locks and
        lease rows of its rooms; a SIGSTOPped node must not stall their takeover); its
        transactions are READ COMMITTED whatever the server's default (the appends' duplicate
        check, :mod:`~dylive.store.postgres.append`)."""
        conn = await self._connect()
        timeout_ms = int(self._writer_idle_timeout * 1000)
        try:
            await conn.execute(f"SET idle_in_transaction_session_timeout = {timeout_ms}")
            # the appends skip duplicates by an anti-join read after the rooms' ordering locks,
            # which needs a snapshot per statement (append.py), whatever the server's default
            await conn.execute("SET default_transaction_isolation = 'read committed'")
        except psycopg.Error as exc:
            await conn.close()
            raise StoreError(f"cannot set up {redact(self.url)}: {exc}", transient=True) from exc
        return conn

    async def open(self) -> None:
        self._wconn = await self._connect_writer()
        try:
            schema = await self._migrate(self._wconn)
        except psycopg.Error as exc:
            await self.close()
            raise StoreError(redact(f"cannot open {self.url}: {exc}")) from exc
        self._channel = f"dylive_{schema}"[:63]
        self._salt = schema_salt(schema)
        ready = asyncio.get_running_loop().create_future()
        self._listener = asyncio.create_task(self._listen(ready), name="dylive-pg-listener")
        await asyncio.wait([ready, self._listener], return_when=asyncio.FIRST_COMPLETED)
        self.tail.start(self._tail_after)
        self._writer = asyncio.create_task(self._write_loop(), name="dylive-pg-writer")

    @staticmethod
    async def _migrate(conn: Conn) -> str:
        """Apply pending migrations under an advisory lock; the schema name."""
        async with conn.transaction():
            cur = await conn.execute("SELECT current_schema()")
            row = await cur.fetchone()
            if row is None or row[0] is None:
                raise psycopg.errors.InvalidSchemaName("no schema selected (search_path)")
            schema = str(row[0])
            await conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (0x64796C76,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS dylive_schema"
                " (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
            )
            cur = await conn.execute("SELECT coalesce(max(version), 0) FROM dylive_schema")
            version = int((await cur.fetchone() or (0,))[0])
            for number, script in enumerate(POSTGRES[version:], start=version + 1):
                log.info("postgres: applying migration %s to schema %s", number, schema)
                await conn.execute(script.encode())
                await conn.execute(
                    "INSERT INTO dylive_schema (version, applied_at) VALUES (%s, %s)",
                    (number, now_ms()),
                )
        return schema

    async def close(self) -> None:
        await self._stop_probe()
        if self._writer is not None:
            await self._queue.put(None)
            await self._writer
            self._writer = None
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        await self.tail.stop()
        await self.pages.close()
        await self._page_wire.close()
        await self._pool.close()
        if self._wconn is not None:
            await self._wconn.close()
            self._wconn = None

    # -- notifications ------------------------------------------------------------------------
    async def _listen(self, ready: asyncio.Future[None]) -> None:
        """Keep a LISTEN connection; reconnect with backoff, waking every waiter on reconnect."""
        first_delay = min(self._poll_interval, 1.0)
        delay = first_delay
        while True:
            try:
                conn = self._lconn = await self._connect()
            except StoreError as exc:
                log.warning("postgres: listener cannot connect: %s", exc)
            else:
                try:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    self._set_listening(True)
                    self._wake_all()  # notifications may have been missed while down
                    if not ready.done():
                        ready.set_result(None)
                    delay = first_delay
                    async for note in conn.notifies():
                        self._notified(note.payload)
                except psycopg.Error as exc:
                    log.warning("postgres: listener lost: %s", exc)
                finally:
                    self._set_listening(False)
                    self._wake_all()  # waiting for a NOTIFY that may not come: poll instead
                    self._lconn = None
                    await conn.close()
            if not ready.done():
                ready.set_result(None)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    def on_commit(self, callback: Callable[[int], None]) -> None:
        self._commit_listeners.append(callback)

    def _set_listening(self, listening: bool) -> None:
        self._listening = self.tail.listening = self._tokens.listening = listening
        self.tail.set_listening(listening)
        self._tokens.clear()

    def _notified(self, payload: str) -> None:
        if payload == "t":  # a token was created, changed or revoked somewhere
            self._tokens.clear()
            return
        room, _, seq = payload.partition(":")
        try:
            room_id = to_unsigned(int(room))
            self.tail.committed(room_id, int(seq))
        except ValueError:
            return
        self._wake(room_id)
        for callback in self._commit_listeners:
            try:
                callback(room_id)
            except Exception:
                log.exception("postgres: commit listener failed")

    def _wake(self, room_id: int) -> None:
        self.waiters.wake(room_id)

    def _wake_all(self) -> None:
        self.waiters.wake_all()

    # -- writer -------------------------------------------------------------------------------
    async def _submit(
        self, fn: Fn, rooms: tuple[int, ...] = (), *, wait: bool = True, events: bool = False
    ) -> Any:
        future = self._enqueue(fn, rooms, events=events, future=wait)
        return await future if future is not None else None

    def _enqueue(
        self, fn: Fn, rooms: tuple[int, ...] = (), *, events: bool = False, future: bool = True
    ) -> asyncio.Future[Any] | None:
        """Queue a write: the future its batch resolves (committed or failed), or None
        (``future=False``: nobody waits; a failure is logged)."""
        if self._writer is None:
            raise StoreError("store is not open")
        done = asyncio.get_running_loop().create_future() if future else None
        self._queue.put_nowait(WriteOp(fn, done, rooms, events))
        return done

    async def _write_loop(self) -> None:
        async for batch in drain_batches(
            self._queue, self._max_batch, self.progress, self.commit_interval
        ):
            self._finish(batch, await self._run_batch(batch))

    async def _ping_read(self) -> None:
        await self._fetch("SELECT 1")

    async def _ping_write(self) -> None:
        async def ping(conn: Conn) -> None:
            await conn.execute("SELECT 1")

        await self._submit(ping)

    async def _run_batch(self, batch: list[Op]) -> list[Any]:
        """One transaction for the batch. A lost connection is retried once on a fresh one,
        then the batch fails as transient; any other failure retries each op alone (one bad
        op fails alone)."""
        self.batches += 1
        try:
            return await self._transaction(batch)
        except Exception as exc:
            failure: Exception = exc
        if _error(failure).transient:
            log.warning("postgres: writer connection lost (%s); retrying the batch", failure)
            try:
                return await self._transaction(batch)
            except Exception as exc:
                if _error(exc).transient:
                    log.warning("postgres: batch of %s ops failed: %s", len(batch), exc)
                    return [_error(exc)] * len(batch)
                failure = exc
        if len(batch) == 1:
            log.error("postgres: write failed: %s", failure)
            return [_error(failure)]
        log.warning(
            "postgres: batch of %s ops failed (%s); retrying one by one", len(batch), failure
        )
        results: list[Any] = []
        for op in batch:
            try:
                results.extend(await self._transaction([op]))
            except Exception as exc:
                log.error("postgres: write failed: %s", exc)
                results.append(_error(exc))
        return results

    async def _transaction(self, batch: list[Op]) -> list[Any]:
        if self._wconn is None or self._wconn.closed or self._wconn.broken:
            if self._wconn is not None:
                await self._wconn.close()
            self._wconn = None
            self._wconn = await self._connect_writer()
        conn = self._wconn
        appends = [op.fn for op in batch if isinstance(op.fn, Append)]
        # No pipeline mode: the server arms idle_in_transaction_session_timeout only when it
        # has answered a Sync, and a pipeline's statements run before theirs arrives: a node
        # SIGSTOPped in between kept its lease rows locked for good (takeover never came).
        async with conn.transaction():
            if appends:
                await lock_rooms(conn, appends)
            answers: dict[int, Any] = {}
            results: list[Any] = []
            for op in batch:
                if not isinstance(op.fn, Append):
                    results.append(await op.fn(conn))
                    continue
                if not answers:  # every append of the batch, combined, at the first one
                    done = await run_appends(conn, appends)
                    answers = dict(zip(map(id, appends), done, strict=True))
                results.append(answers[id(op.fn)])
            return results

    def _finish(self, batch: list[Op], results: list[Any]) -> None:
        for room_id in settle(batch, results, "postgres"):
            self._wake(room_id)

    # -- readers ------------------------------------------------------------------------------
    async def _fetch(
        self,
        query: str,
        args: Sequence[Any] | Mapping[str, Any] = (),
        *,
        binary: bool = False,
        unsorted: bool = False,
    ) -> list[tuple[Any, ...]]:
        """Rows of a read; retried once on a fresh connection if the pooled one was dead.
        ``binary``: results in binary format (row reads with bytea: no hex on either side).
        ``unsorted``: planned with ``enable_sort`` off (``SET LOCAL``, see ``UNSORTED``)."""
        for attempt in (1, 2):
            try:
                async with self._pool.connection() as conn:
                    if not unsorted:
                        cur = await conn.execute(query, args, binary=binary)
                        return await cur.fetchall()
                    async with conn.transaction():
                        await conn.execute(f"SET LOCAL {UNSORTED}")
                        cur = await conn.execute(query, args, binary=binary)
                        return await cur.fetchall()
            except psycopg.OperationalError as exc:
                if attempt == 2 or not conn.broken:
                    raise StoreError(f"read failed: {exc}", transient=True) from exc
                log.warning("postgres: reader connection lost (%s); retrying", exc)
            except psycopg.Error as exc:
                raise StoreError(f"read failed: {exc}") from exc
        raise AssertionError("unreachable")

    async def _fetch_one(
        self, query: str, args: Sequence[Any] | Mapping[str, Any] = (), *, binary: bool = False
    ) -> tuple[Any, ...] | None:
        rows = await self._fetch(query, args, binary=binary)
        return rows[0] if rows else None

    async def _write(self, query: str, args: Sequence[Any]) -> int:
        """Run one statement in the writer's transaction; its rowcount."""

        async def run(conn: Conn) -> int:
            cur = await conn.execute(query, args)
            return cur.rowcount

        count: int = await self._submit(run)
        return count

    async def _tail_after(
        self, rooms: list[int], after_seq: int, limit: int
    ) -> list[StoredMessage]:
        rows = await self._fetch(
            f"SELECT {EVENT_COLS} FROM events WHERE room_id = ANY(%s) AND seq > %s"
            " ORDER BY seq LIMIT %s",
            ([to_signed(r) for r in rooms], after_seq, limit),
            binary=True,
        )
        return [message_from_row(row) for row in rows]


#: Failures caused by the data of one operation (out of range, a constraint, a type that cannot
#: be sent): retrying it cannot succeed. Anything else (connection lost, server restarting or
#: shutting down, disk full, a missing table) is transient.
_PERMANENT = (psycopg.DataError, psycopg.IntegrityError, OverflowError, ValueError, TypeError)


def _error(exc: BaseException) -> StoreError:
    """A StoreError for a failed write, ``transient`` when a retry may succeed."""
    if isinstance(exc, StoreError):
        return exc
    return StoreError(f"write failed: {exc}", transient=not isinstance(exc, _PERMANENT))
