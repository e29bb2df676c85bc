"""The event log on PostgreSQL: appends (combined per writer batch, see ``append``),
quarantine, and reads from the shared tail cache or SQL (the chat pages as aggregates read
together, see ``pages``)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Sequence

from .. import sessions as ses
from ..interfaces import ArrowPages, EventLog
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
    message_from_row,
    position_from_row,
    position_values,
    quarantine_values,
    quarantined_from_row,
)
from ..usage import PRUNE_MESSAGES_BATCH, delete_in_batches
from . import bulk
from .append import Append
from .engine import EVENT_COLS, PostgresEngine
from .pool import Conn

# every room with stored messages and its newest seq: a loose index scan over events_room_seq
# (one index probe per room, never a scan of every row)
_ROOM_HEADS = """
WITH RECURSIVE r AS (
    (SELECT room_id FROM events ORDER BY room_id LIMIT 1)
    UNION ALL
    SELECT (SELECT room_id FROM events WHERE events.room_id > r.room_id ORDER BY room_id LIMIT 1)
    FROM r WHERE r.room_id IS NOT NULL
)
SELECT r.room_id, (SELECT max(seq) FROM events WHERE events.room_id = r.room_id)
FROM r WHERE r.room_id IS NOT NULL
"""

# retention (prune): the first message to keep, by seq (an index scan of events_pkey over the
# older rows); a batch of the older ones by row address, in seq order. seq orders commits per
# room only (several writers): a row before that first one but stored after the cutoff stays.
_FIRST_KEPT = "SELECT seq FROM events WHERE stored_at >= %s ORDER BY seq LIMIT 1"
_PRUNE = (
    "DELETE FROM events WHERE ctid = ANY(ARRAY("
    "SELECT ctid FROM events WHERE seq < %s AND stored_at < %s ORDER BY seq LIMIT %s))"
)

# scan_columns: the page in one aggregate (the msg_id column is signed: its unsigned digits via
# numeric); the aggregates read the ordered subquery in its order (an ORDER BY inside them would
# sort the page again: twice the time, measured)
_SCAN_COLUMNS = """
SELECT count(*), max(seq),
    convert_to(json_build_object(
        'seq', json_agg(seq),
        'msg_id', json_agg(
            CASE WHEN msg_id < 0 THEN msg_id::numeric + 18446744073709551616 ELSE msg_id END
        ),
        'method', json_agg(method),
        'created_at', json_agg(created_at)
    )::text, 'UTF8'),
    string_agg(rendered, '\\x0a'::bytea)
FROM (
    SELECT seq, msg_id, method, created_at, rendered FROM events
    WHERE room_id = %s AND seq > %s ORDER BY seq LIMIT %s
) AS page
"""


class PostgresEventLog(PostgresEngine, EventLog):
    """:class:`~dylive.store.interfaces.EventLog` on PostgreSQL."""

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
                f"SELECT {EVENT_COLS} FROM events WHERE room_id = %s ORDER BY seq DESC LIMIT %s",
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
        """The chat endpoint's page: from the tail cache, else one aggregate whose answer is the
        page's bytes (binary: no per-row objects, no hex), read in one statement with the pages
        other requests asked for meanwhile (``pages``); when some of the first ``limit`` rows
        are not wanted, the keyset scan of :meth:`read`."""
        if limit <= 0:
            return JoinedPage(0, b"", after_seq)
        joined = self.tail.joined(room_id, after_seq, limit, methods)
        if joined is not None:
            return joined
        if self.tail.wants(room_id):  # read() installs the room's tail
            return JoinedPage.of(await self.read(room_id, after_seq, limit, methods))
        row = await self.pages.page(to_signed(room_id), after_seq, limit, methods)
        rows, count, last_seq, last_msg_id, body = row
        if not rows:
            return JoinedPage(0, b"", after_seq)
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
            f"SELECT {EVENT_COLS} FROM events WHERE room_id = %s AND seq > %s ORDER BY seq LIMIT %s"
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
            if self._listening and self.tail.known.get(room_id, 0) > after_seq:
                return True  # a commit we heard of (ours or a notification)
            remaining = deadline - loop.time()
            timeout = remaining if self._listening else min(remaining, self._poll_interval)
            # registered before the check: a commit heard while it runs wakes this wait
            woken = self.waiters.wait(room_id, max(timeout, 0.0))
            # a fresh cached room holds every row committed up to what was heard, and a commit
            # after it is heard of and wakes this wait: no query (the page read before the wait
            # trusted the cache the same way)
            cached = self.tail.fresh_last(room_id)  # None unless listening (the same flag)
            if cached is not None:
                found = cached > after_seq
            else:
                found = await self.last_seq(room_id) > after_seq
            if found or remaining <= 0:
                woken.cancel()  # dropped by the room's next wake or its deadline bucket
                return found
            self.waiting += 1
            try:  # one future, woken by a commit or notification, or by its deadline bucket
                if await woken:
                    self.woken += 1
                else:
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

    async def scan_columns(self, room_id: int, after_seq: int, limit: int) -> ColumnsPage:
        args = (to_signed(room_id), after_seq, limit)
        rows = await self._fetch(_SCAN_COLUMNS, args, binary=True, unsorted=True)
        size, last_seq, columns, rendered = rows[0]
        if not size:
            return ColumnsPage(0, 0, b"", b"")
        return ColumnsPage(size, last_seq, bytes(columns), bytes(rendered))

    def arrow_pages(self) -> ArrowPages | None:
        return bulk.AdbcPages(self.url) if bulk.available() else None

    async def prune(self, older_than_ms: int, batch: int = PRUNE_MESSAGES_BATCH) -> int:
        """Delete the oldest messages up to the first one stored at/after ``older_than_ms``
        (found on a reader connection), in batches, each its own write."""
        row = await self._fetch_one(_FIRST_KEPT, (older_than_ms,))
        if row is None:  # none newer: every older one (later commits are newer)
            row = await self._fetch_one("SELECT max(seq) + 1 FROM events")
        keep_from = int(row[0] or 0) if row else 0
        if not keep_from:
            return 0
        forget = functools.partial(self.tail.forget, keep_from)  # the tail may hold them
        bounds = (keep_from, older_than_ms)
        return await delete_in_batches(self._write, (_PRUNE,), bounds, batch, forget)

    async def room_heads(self) -> dict[int, int]:
        rows = await self._fetch(_ROOM_HEADS)
        return {to_unsigned(room_id): int(seq) for room_id, seq in rows}
