"""PostgreSQL implementation of :class:`EventStore`: for when one machine is not enough.

Same semantics as :class:`~dylive.store.sqlite.SQLiteStore`, and safe for several processes
sharing one database:

- One writer task per process batches every pending write into one transaction (durable
  commits: ``synchronous_commit`` as the server sets it, ``on`` by default). The appends of a
  batch are combined: one ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING`` statement
  checks the fences, inserts the records, stores the upstream positions and notifies
  (:mod:`~dylive.store.pg_append`): four round trips per batch (BEGIN, ordering locks, the
  statement, COMMIT), whatever the number of rooms and messages.
- ``seq`` is a ``BIGSERIAL``. Transactions that insert messages first take a transaction-level
  advisory lock per room they write, so within a room seq values become visible in commit
  order across processes and a keyset reader (``seq > ?``) never skips a row that commits
  late; writers of different rooms (the nodes of a fleet) do not wait for each other.
  Duplicates may leave holes in seq (the sequence is consumed); seq is monotonic, not dense.
- ``wait_for`` works across processes: every committed insert sends ``NOTIFY`` on a channel
  named after the schema (``dylive_<schema>``) with ``<room_id>:<seq>``; a listener connection
  wakes the waiters, which then check the database. If the listener is down, waiters poll.
- Ids: ``room_id``, ``msg_id`` and ``anchor_uid`` are unsigned 64-bit on the wire and stored in
  signed ``BIGINT`` columns through :func:`~dylive.store.migrations.to_signed` (identity below
  2^63, ``value - 2^64`` above); reads map them back, so callers only ever see unsigned ids.
  Uniqueness and equality are preserved (the mapping is a bijection); ordering by id is not used.
- Reads use a small pool of autocommit connections, never OFFSET except in ``backlog_start``.
- Schema versions are rows of ``dylive_schema``; migrations run under an advisory lock.

Select a schema with libpq's ``options``:
``postgresql://user@host/db?options=-csearch_path%3Ddylive``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import sql

from dylive import settings
from dylive.errors import StoreError

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
from .dburl import redact
from .migrations import POSTGRES, to_signed, to_unsigned
from .pg_append import Append, lock_rooms, run_appends, schema_salt
from .pgcache import SharedTail, TokenCache
from .postgres_delivery import PostgresDelivery
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

log = logging.getLogger(__name__)

Conn = psycopg.AsyncConnection[Any]
_Fn = Callable[[Conn], Awaitable[Any]]
_Op = WriteOp[_Fn]

_EVENT_COLS = "seq, room_id, msg_id, method, created_at, stored_at, rendered"
_TOKEN_COLS = "id, name, digest, room_limit, rate, created_at, revoked_at"
_ROOM_COLS = (
    "room_id, web_rid, status, anchor_uid, anchor_sec_uid, anchor_nickname, title, updated_at"
)
_UPSERT_ROOM = f"""
INSERT INTO rooms ({_ROOM_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (room_id) DO UPDATE SET web_rid = excluded.web_rid, status = excluded.status,
    anchor_uid = excluded.anchor_uid, anchor_sec_uid = excluded.anchor_sec_uid,
    anchor_nickname = excluded.anchor_nickname, title = excluded.title,
    updated_at = excluded.updated_at
"""
# the first `limit` rows after a seq in one aggregate: the wanted rows' JSON already joined
_JOINED = """
SELECT count(*), count(*) FILTER (WHERE w), max(seq), (array_agg(msg_id ORDER BY seq DESC))[1],
    string_agg(rendered, ','::bytea ORDER BY seq) FILTER (WHERE w)
FROM (
    SELECT seq, msg_id, rendered, (%(methods)s::text[] IS NULL OR method = ANY(%(methods)s)) AS w
    FROM events WHERE room_id = %(room)s AND seq > %(after)s ORDER BY seq LIMIT %(limit)s
) AS page
"""
_SET_POSITIONS = """
INSERT INTO positions (token_id, room_id, seq) VALUES (%s, %s, %s)
ON CONFLICT (token_id, room_id) DO UPDATE SET seq = greatest(positions.seq, excluded.seq)
"""


class _Pool:
    """A few autocommit connections, opened on demand, replaced when broken."""

    def __init__(self, connect: Callable[[], Awaitable[Conn]], size: int) -> None:
        self._connect = connect
        self._idle: list[Conn] = []
        self._slots = asyncio.Semaphore(size)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._connect()
            keep = False
            try:
                yield conn
                keep = True
            except psycopg.Error:
                keep = not conn.broken
                if conn.broken:  # the server went away: the idle ones are most likely dead too
                    stale, self._idle = self._idle, []
                    for other in stale:
                        await other.close()
                raise
            finally:
                if keep and not conn.closed:
                    self._idle.append(conn)
                else:  # broken, or interrupted mid-query (cancelled): never reuse
                    await conn.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()


class PostgresStore(PostgresDelivery, EventStore):
    """``PostgresStore("postgresql://user@host/db")``; ``async with`` or :meth:`open`/:meth:`close`.

    ``poll_interval``: how often waiters re-check the database while the notification listener
    is down (seconds; default: the ``pg_poll_interval`` setting). While it is up, waiters wake
    on notifications only.
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
    ) -> None:
        self.url = url
        self._max_batch = max_batch
        self._connect_timeout = connect_timeout
        self._poll_interval = (
            settings.number("pg_poll_interval") if poll_interval is None else poll_interval
        )
        self._pool = _Pool(self._connect, readers)
        self._queue: asyncio.Queue[_Op | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._listening = False
        self._wconn: Conn | None = None
        self._lconn: Conn | None = None  # the LISTEN connection (while connected)
        self._channel = ""
        self._salt = 0  # of the per-room ordering-lock keys
        self._signals: dict[int, asyncio.Event] = {}
        self._pending_pos: dict[tuple[int, int], int] = {}
        self._commit_listeners: list[Callable[[int], None]] = []
        self.tail = SharedTail(tail_size, tail_rooms)
        self._writer_idle_timeout = writer_idle_timeout
        self._tokens = TokenCache(token_ttl)
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

    async def _connect_writer(self) -> Conn:
        """The writer's connection: a transaction left open by a paused or partitioned process
        is ended by the server after ``writer_idle_timeout`` (it holds the ordering locks and
        lease rows of its rooms; a SIGSTOPped node must not stall their takeover)."""
        conn = await self._connect()
        timeout_ms = int(self._writer_idle_timeout * 1000)
        try:
            await conn.execute(f"SET idle_in_transaction_session_timeout = {timeout_ms}")
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
        if self._writer is not None:
            await self._queue.put(None)
            await self._writer
            self._writer = None
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        await self.tail.stop()
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
        if payload == "t":  # a token was created or revoked somewhere
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
        signal = self._signals.pop(room_id, None)
        if signal is not None:
            signal.set()

    def _wake_all(self) -> None:
        signals, self._signals = self._signals, {}
        for signal in signals.values():
            signal.set()

    # -- writer -------------------------------------------------------------------------------
    async def _submit(
        self, fn: _Fn, rooms: tuple[int, ...] = (), *, wait: bool = True, events: bool = False
    ) -> Any:
        if self._writer is None:
            raise StoreError("store is not open")
        future: asyncio.Future[Any] | None = (
            asyncio.get_running_loop().create_future() if wait else None
        )
        self._queue.put_nowait(_Op(fn, future, rooms, events))
        return await future if future is not None else None

    async def _write_loop(self) -> None:
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
            self._finish(batch, await self._run_batch(batch))

    async def _run_batch(self, batch: list[_Op]) -> list[Any]:
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

    async def _transaction(self, batch: list[_Op]) -> list[Any]:
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

    def _finish(self, batch: list[_Op], results: list[Any]) -> None:
        for room_id in settle(batch, results, "postgres"):
            self._wake(room_id)

    # -- readers ------------------------------------------------------------------------------
    async def _fetch(
        self, query: str, args: Sequence[Any] | Mapping[str, Any] = (), *, binary: bool = False
    ) -> list[tuple[Any, ...]]:
        """Rows of a read; retried once on a fresh connection if the pooled one was dead.
        ``binary``: results in binary format (row reads with bytea: no hex on either side)."""
        for attempt in (1, 2):
            try:
                async with self._pool.connection() as conn:
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
        write = Append(
            self._channel,
            self._salt,
            records,
            position_values(position) if position is not None else None,
            fence,
            records[0].room_id if records else position.room_id if position else 0,
        )
        inserted: int = await self._submit(write, tuple(write.rooms), events=bool(records))
        for room_id, seq in write.heads:  # committed: the tail cache may take them
            self.tail.committed(room_id, seq)
        self.appended += inserted
        return inserted

    async def _tail_after(
        self, rooms: list[int], after_seq: int, limit: int
    ) -> list[StoredMessage]:
        rows = await self._fetch(
            f"SELECT {_EVENT_COLS} FROM events WHERE room_id = ANY(%s) AND seq > %s"
            " ORDER BY seq LIMIT %s",
            ([to_signed(r) for r in rooms], after_seq, limit),
            binary=True,
        )
        return [message_from_row(row) for row in rows]

    async def upstream_position(self, room_id: int) -> UpstreamPosition | None:
        row = await self._fetch_one(
            f"SELECT {POSITION_COLS} FROM upstream_positions WHERE room_id = %s",
            (to_signed(room_id),),
        )
        return position_from_row(row) if row else None

    async def quarantine(self, record: Record, error: str) -> None:
        values = quarantine_values(record, error)

        async def insert(conn: Conn) -> None:
            await conn.execute(
                "INSERT INTO quarantine (room_id, msg_id, method, raw, error, stored_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                values,
            )

        await self._submit(insert)

    async def quarantined(self, room_id: int, limit: int = 100) -> list[QuarantinedMessage]:
        rows = await self._fetch(
            f"SELECT {QUARANTINE_COLS} FROM quarantine WHERE room_id = %s"
            " ORDER BY id DESC LIMIT %s",
            (to_signed(room_id), limit),
        )
        return [quarantined_from_row(r) for r in rows]

    async def read(
        self,
        room_id: int,
        after_seq: int,
        limit: int,
        methods: frozenset[str] | None = None,
    ) -> Page:
        """Scan forward from ``after_seq`` until ``limit`` matching rows (bounded work)."""
        if limit <= 0:
            return Page([], after_seq)
        cached = self.tail.page(room_id, after_seq, limit, methods)
        if cached is not None:
            return cached
        fill = self.tail.wants(room_id)
        page = await self._read_sql(room_id, after_seq, limit, methods)
        if fill:
            rows = await self._fetch(
                f"SELECT {_EVENT_COLS} FROM events WHERE room_id = %s ORDER BY seq DESC LIMIT %s",
                (to_signed(room_id), self.tail.size),
                binary=True,
            )
            self.tail.install(room_id, [message_from_row(row) for row in reversed(rows)])
        return page

    async def read_joined(
        self,
        room_id: int,
        after_seq: int,
        limit: int,
        methods: frozenset[str] | None = None,
    ) -> JoinedPage:
        """The chat endpoint's page: from the tail cache, else one aggregate statement whose
        answer is the page's bytes (binary: no per-row objects, no hex); when some of the first
        ``limit`` rows are not wanted, the keyset scan of :meth:`read`."""
        if limit <= 0:
            return JoinedPage(0, b"", after_seq)
        joined = self.tail.joined(room_id, after_seq, limit, methods)
        if joined is not None:
            return joined
        if self.tail.wants(room_id):  # read() installs the room's tail
            return JoinedPage.of(await self.read(room_id, after_seq, limit, methods))
        args = {
            "methods": sorted(methods) if methods is not None else None,
            "room": to_signed(room_id),
            "after": after_seq,
            "limit": limit,
        }
        row = await self._fetch_one(_JOINED, args, binary=True)
        if row is None or not row[0]:
            return JoinedPage(0, b"", after_seq)
        rows, count, last_seq, last_msg_id, body = row
        if count < rows:  # some rows skipped: their methods and the rest of the page
            return JoinedPage.of(await self._read_sql(room_id, after_seq, limit, methods))
        return JoinedPage(count, bytes(body), int(last_seq), to_unsigned(int(last_msg_id)))

    async def _read_sql(
        self, room_id: int, after_seq: int, limit: int, methods: frozenset[str] | None
    ) -> Page:
        chunk = limit if methods is None else max(limit * 2, 200)
        messages: list[StoredMessage] = []
        ignored: dict[str, None] = {}
        last = after_seq
        query = (
            f"SELECT {_EVENT_COLS} FROM events WHERE room_id = %s AND seq > %s"
            " ORDER BY seq LIMIT %s"
        )
        for _ in range(20):
            rows = await self._fetch(query, (to_signed(room_id), last, chunk), binary=True)
            for row in rows:
                last = row[0]
                if methods is None or row[3] in methods:
                    messages.append(message_from_row(row))
                    if len(messages) >= limit:
                        return Page(messages, last, list(ignored))
                else:
                    ignored[row[3]] = None
            if len(rows) < chunk:
                break
        return Page(messages, last, list(ignored))

    async def backlog_start(
        self, room_id: int, count: int, methods: frozenset[str] | None = None
    ) -> int:
        if methods is None:
            row = await self._fetch_one(
                "SELECT seq FROM events WHERE room_id = %s ORDER BY seq DESC LIMIT 1 OFFSET %s",
                (to_signed(room_id), count),
            )
        else:
            row = await self._fetch_one(
                "SELECT seq FROM events WHERE room_id = %s AND method = ANY(%s)"
                " ORDER BY seq DESC LIMIT 1 OFFSET %s",
                (to_signed(room_id), sorted(methods), count),
            )
        return int(row[0]) if row else 0

    async def last_seq(self, room_id: int) -> int:
        row = await self._fetch_one(
            "SELECT seq FROM events WHERE room_id = %s ORDER BY seq DESC LIMIT 1",
            (to_signed(room_id),),
        )
        return int(row[0]) if row else 0

    async def wait_for(self, room_id: int, after_seq: int, within: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            signal = self._signals.setdefault(room_id, asyncio.Event())  # before the check
            if self._listening and self.tail.known.get(room_id, 0) > after_seq:
                return True  # a commit we heard of (ours or a notification)
            if await self.last_seq(room_id) > after_seq:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            timeout = remaining if self._listening else min(remaining, self._poll_interval)
            self.waiting += 1
            try:
                await asyncio.wait_for(signal.wait(), timeout)
                self.woken += 1
            except TimeoutError:
                self.wait_timeouts += 1
            finally:
                self.waiting -= 1

    async def messages_of(
        self, room_id: int, methods: Iterable[str], after_seq: int
    ) -> list[tuple[int, int, str, bytes]]:
        rows = await self._fetch(
            "SELECT seq, msg_id, method, raw FROM events WHERE room_id = %s AND seq > %s"
            " AND method = ANY(%s) ORDER BY seq",
            (to_signed(room_id), after_seq, list(methods)),
            binary=True,
        )
        return [(seq, to_unsigned(msg_id), method, bytes(raw)) for seq, msg_id, method, raw in rows]

    async def scan(
        self, room_id: int, after_seq: int, limit: int, *, rendered: bool = False
    ) -> list[RawRow]:
        sql = ses.SCAN_RENDERED if rendered else ses.SCAN
        rows = await self._fetch(sql, (to_signed(room_id), after_seq, limit), binary=True)
        return [ses.raw_row(row) for row in rows]

    async def prune(self, older_than_ms: int) -> int:
        """Delete the oldest messages up to the first one stored at/after ``older_than_ms``."""

        async def delete(conn: Conn) -> int:
            cur = await conn.execute(
                "SELECT seq FROM events WHERE stored_at >= %s ORDER BY seq LIMIT 1",
                (older_than_ms,),
            )
            row = await cur.fetchone()
            if row is None:
                cur = await conn.execute(
                    "DELETE FROM events WHERE stored_at < %s", (older_than_ms,)
                )
            else:
                cur = await conn.execute(  # seq orders commits per room only: check both
                    "DELETE FROM events WHERE seq < %s AND stored_at < %s",
                    (row[0], older_than_ms),
                )
            return cur.rowcount

        deleted: int = await self._submit(delete)
        self.tail.clear()  # the tail may hold pruned rows
        return deleted

    # -- rooms --------------------------------------------------------------------------------
    async def upsert_room(self, room: RoomRecord) -> None:
        values = room_values(room)

        async def upsert(conn: Conn) -> None:
            await conn.execute(_UPSERT_ROOM, values)

        await self._submit(upsert)

    async def find_room(self, *, room_id: int = 0, web_rid: str = "") -> RoomRecord | None:
        if room_id:
            row = await self._fetch_one(
                f"SELECT {_ROOM_COLS} FROM rooms WHERE room_id = %s", (to_signed(room_id),)
            )
        else:
            row = await self._fetch_one(
                f"SELECT {_ROOM_COLS} FROM rooms WHERE web_rid = %s"
                " ORDER BY updated_at DESC LIMIT 1",
                (web_rid,),
            )
        return room_from_row(row) if row else None

    # -- tokens -------------------------------------------------------------------------------
    async def create_token(self, name: str, digest: str, room_limit: int, rate: float) -> int:
        async def insert(conn: Conn) -> int | StoreError:
            cur = await conn.execute(
                "SELECT id FROM tokens WHERE name = %s AND revoked_at = 0", (name,)
            )
            taken = await cur.fetchone()
            if taken is not None:
                return name_taken(name, taken[0])
            cur = await conn.execute(
                "INSERT INTO tokens (name, digest, room_limit, rate, created_at)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (name, digest, room_limit, rate, now_ms()),
            )
            row = await cur.fetchone()
            await conn.execute("SELECT pg_notify(%s, 't')", (self._channel,))
            return int(row[0]) if row else 0

        token_id: int = await self._submit(insert)
        self._tokens.clear()
        return token_id

    async def token_by_digest(self, digest: str) -> TokenRecord | None:
        """Cached for a few seconds; any token change on any node clears every cache."""
        hit, record = self._tokens.get(digest)
        if hit:
            return record
        row = await self._fetch_one(
            f"SELECT {_TOKEN_COLS} FROM tokens WHERE digest = %s", (digest,)
        )
        record = token_from_row(row) if row else None
        self._tokens.put(digest, record)
        return record

    async def list_tokens(self) -> list[TokenRecord]:
        rows = await self._fetch(f"SELECT {_TOKEN_COLS} FROM tokens ORDER BY id")
        return [token_from_row(r) for r in rows]

    async def revoke_token(self, ident: str | int) -> int:
        column = "id" if isinstance(ident, int) else "name"

        async def revoke(conn: Conn) -> int:
            cur = await conn.execute(
                f"UPDATE tokens SET revoked_at = %s WHERE revoked_at = 0 AND {column} = %s",
                (now_ms(), ident),
            )
            await conn.execute("SELECT pg_notify(%s, 't')", (self._channel,))
            return cur.rowcount

        count: int = await self._submit(revoke)
        self._tokens.clear()  # here at once; other processes on the notification
        return count

    # -- positions ----------------------------------------------------------------------------
    async def get_position(self, token_id: int, room_id: int) -> int | None:
        pending = self._pending_pos.get((token_id, room_id))
        row = await self._fetch_one(
            "SELECT seq FROM positions WHERE token_id = %s AND room_id = %s",
            (token_id, to_signed(room_id)),
        )
        stored = int(row[0]) if row else None
        if pending is not None:
            return max(pending, stored or 0)
        return stored

    async def set_position(self, token_id: int, room_id: int, seq: int, *, wait: bool) -> None:
        """Awaited writes commit before returning; unawaited ones are coalesced per
        (token, room) and written by the next writer batch."""
        key = (token_id, room_id)
        first = not self._pending_pos
        self._pending_pos[key] = max(seq, self._pending_pos.get(key, 0))
        if wait or first:
            await self._submit(self._positions_op(), wait=wait)

    def _positions_op(self) -> _Fn:
        taken: dict[tuple[int, int], int] | None = None

        async def write(conn: Conn) -> int:
            nonlocal taken
            if taken is None:  # taken once: a retried op writes the same positions
                taken, self._pending_pos = self._pending_pos, {}
            if taken:
                async with conn.cursor() as cur:
                    await cur.executemany(
                        _SET_POSITIONS,
                        [(t, to_signed(r), seq) for (t, r), seq in taken.items()],
                    )
            return len(taken)

        return write

    # -- pins ---------------------------------------------------------------------------------
    async def set_pin(self, ident: str, pinned: bool) -> None:
        query = (
            "INSERT INTO pins (ident) VALUES (%s) ON CONFLICT DO NOTHING"
            if pinned
            else "DELETE FROM pins WHERE ident = %s"
        )

        async def write(conn: Conn) -> None:
            await conn.execute(query, (ident,))

        await self._submit(write)

    async def pins(self) -> list[str]:
        rows = await self._fetch("SELECT ident FROM pins ORDER BY ident")
        return [r[0] for r in rows]

    # -- sessions (analytics) -----------------------------------------------------------------
    async def open_session(self, session: SessionRecord) -> SessionRecord:
        args = ses.insert_args(session)

        async def insert(conn: Conn) -> None:
            await conn.execute(ses.INSERT, args)

        await self._submit(insert)
        found = await self.get_session(room_id=session.room_id)
        assert found is not None
        return found

    async def save_session(self, session: SessionRecord, expected_seq: int) -> bool:
        args = ses.save_args(session, expected_seq)

        async def save(conn: Conn) -> int:
            cur = await conn.execute(ses.SAVE, args)
            return cur.rowcount

        changed: int = await self._submit(save)
        return changed == 1

    async def get_session(self, *, session_id: int = 0, room_id: int = 0) -> SessionRecord | None:
        sql, key = (ses.BY_ID, session_id) if session_id else (ses.BY_ROOM, to_signed(room_id))
        row = await self._fetch_one(sql, (key,))
        return ses.session_from_row(row) if row else None

    async def list_sessions(self, *, web_rid: str = "", room_id: int = 0) -> list[SessionRecord]:
        sql, args = ses.list_query(web_rid, room_id, sqlite=False)
        return [ses.session_from_row(row) for row in await self._fetch(sql, args)]

    # -- identities ---------------------------------------------------------------------------
    async def save_identity(self, identity: IdentityRecord) -> None:
        query = (
            f"INSERT INTO identities ({IDENTITY_COLS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
            "ON CONFLICT (name) DO UPDATE SET cookie = EXCLUDED.cookie, proxy = EXCLUDED.proxy, "
            "user_agent = EXCLUDED.user_agent, max_rooms = EXCLUDED.max_rooms, "
            "state = EXCLUDED.state, cooldown_until = EXCLUDED.cooldown_until, "
            "strikes = EXCLUDED.strikes, note = EXCLUDED.note"
        )
        row = identity_row(identity)

        async def write(conn: Conn) -> None:
            await conn.execute(query, row)

        await self._submit(write)

    async def identities(self) -> list[IdentityRecord]:
        rows = await self._fetch(f"SELECT {IDENTITY_COLS} FROM identities ORDER BY name")
        return [IdentityRecord(*row) for row in rows]

    async def remove_identity(self, name: str) -> int:
        async def delete(conn: Conn) -> int:
            cur = await conn.execute("DELETE FROM identities WHERE name = %s", (name,))
            return int(cur.rowcount)

        count: int = await self._submit(delete)
        return count

    async def set_identity_state(
        self, name: str, *, state: str, cooldown_until: int, strikes: int, note: str
    ) -> None:
        query = (
            "UPDATE identities SET state = %s, cooldown_until = %s, strikes = %s, note = %s "
            "WHERE name = %s"
        )

        async def write(conn: Conn) -> None:
            await conn.execute(query, (state, cooldown_until, strikes, note, name))

        await self._submit(write)


#: Failures caused by the data of one operation (out of range, a constraint, a type that cannot
#: be sent): retrying it cannot succeed. Anything else (connection lost, server restarting or
#: shutting down, disk full, a missing table) is transient.
_PERMANENT = (psycopg.DataError, psycopg.IntegrityError, OverflowError, ValueError, TypeError)


def _error(exc: BaseException) -> StoreError:
    """A StoreError for a failed write, ``transient`` when a retry may succeed."""
    if isinstance(exc, StoreError):
        return exc
    return StoreError(f"write failed: {exc}", transient=not isinstance(exc, _PERMANENT))
