"""The chat endpoint's pages from PostgreSQL, read together: the pages requested while others
are being read go to the database as one statement.

A page read alone is one round trip, and most of its cost is the round trip, not the 50 rows:
the server's per-statement work (bind, executor start, result, socket wake-ups) and, in this
process, psycopg's send, socket waits and result handling. Measured on the 2-core machine
(32 concurrent readers, 4 connections, history pages of a 100,000-message room): one statement
per page cost ≈ 115 µs of client CPU and ≈ 200–260 µs of server backend CPU per page; the same
pages 32 to a statement ≈ 50–60 µs and ≈ 65–85 µs.

:class:`PageBatches` never waits to fill a batch: a page requested while fewer than
``inflight`` statements are running is sent at once (alone); pages requested meanwhile queue,
and the next statement to start takes all of them (up to ``max_batch``). Batches therefore form
only under load, where they pay. Each page's answer is the row of :data:`PAGES` for it.
``inflight`` (the engine's ``page_statements``, 2): one statement at a time makes the next one
larger, two let a page start while one runs; on the 2-core machine they were within the noise
of each other (history ratio 0.51 vs 0.42 one run, 0.42 vs 0.51 the next).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from dylive.errors import StoreError

from .pagewire import BIGINTS, INTS, TEXTS, Statement

#: One row per requested ``(room, after, limit)``, in the order given, for the first ``limit``
#: rows after ``after``: their count, the count of the wanted ones (``methods``), the last
#: seq, the last row's msg_id (one primary-key probe: an ordered array_agg would sort the rows
#: again) and the wanted rows' rendered JSON joined by ``,``. The aggregates read the ordered
#: subquery in its order (an ORDER BY inside string_agg would sort each page again).
#: Parameters (typed arrays, sent as array literals): rooms, afters, limits and the wanted
#: methods (a typed parameter: a text literal cast beside ``ANY`` was parsed again for every
#: row, 3x the server time). Run by :mod:`~.pagewire`.
PAGES = Statement(
    b"dylive_pages",
    """
SELECT p.n, p.wanted, p.last_seq,
    (SELECT e.msg_id FROM events AS e WHERE e.seq = p.last_seq), p.body
FROM unnest($1, $2, $3)
    WITH ORDINALITY AS r(room, after, lim, i)
CROSS JOIN LATERAL (
    SELECT count(*) AS n, count(*) FILTER (WHERE w) AS wanted, max(seq) AS last_seq,
        string_agg(rendered, ','::bytea) FILTER (WHERE w) AS body
    FROM (
        SELECT seq, rendered, method = ANY($4) AS w
        FROM events WHERE room_id = r.room AND seq > r.after ORDER BY seq LIMIT r.lim
    ) AS page
) AS p
ORDER BY r.i
""",
    (BIGINTS, BIGINTS, INTS, TEXTS),
)
#: The same for pages of every method: nothing computed per row.
PAGES_ALL = Statement(
    b"dylive_pages_all",
    """
SELECT p.n, p.n, p.last_seq, (SELECT e.msg_id FROM events AS e WHERE e.seq = p.last_seq), p.body
FROM unnest($1, $2, $3)
    WITH ORDINALITY AS r(room, after, lim, i)
CROSS JOIN LATERAL (
    SELECT count(*) AS n, max(seq) AS last_seq, string_agg(rendered, ','::bytea) AS body
    FROM (
        SELECT seq, rendered FROM events
        WHERE room_id = r.room AND seq > r.after ORDER BY seq LIMIT r.lim
    ) AS page
) AS p
ORDER BY r.i
""",
    (BIGINTS, BIGINTS, INTS),
)

#: (signed room_id, after seq, limit, wanted methods or None for every method)
Want = tuple[int, int, int, frozenset[str] | None]
Row = tuple[Any, ...]
Run = Callable[[Statement, list[str]], Awaitable[list[Row]]]
Queued = tuple[Want, "asyncio.Future[Row]"]


class PageBatches:
    """``await pages.page(room, after, limit, methods)``: the :data:`PAGES` row of one page,
    read with the pages other callers asked for meanwhile (one statement per method set among
    them). ``run(statement, params)`` reads the rows (:class:`~.pagewire.PageWire`)."""

    def __init__(self, run: Run, *, inflight: int = 2, max_batch: int = 64) -> None:
        self._run = run
        self.inflight = inflight
        self.max_batch = max_batch
        self._queue: list[Queued] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = 0  # drain tasks still taking pages (a task leaving stops counting at once)
        self.statements = 0  # statements run
        self.pages = 0  # pages read by them
        self._literals: dict[frozenset[str], str] = {}  # method sets as text[] literals

    async def page(self, room: int, after: int, limit: int, methods: frozenset[str] | None) -> Row:
        future: asyncio.Future[Row] = asyncio.get_running_loop().create_future()
        self._queue.append(((room, after, limit, methods), future))
        if self._running < self.inflight:
            self._running += 1
            task = asyncio.create_task(self._drain(), name="dylive-pg-pages")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        """Run statements while pages are queued (each takes everything queued so far)."""
        try:
            await self._take()
        finally:  # at once, not in a done callback: a page queued after this must start a task
            self._running -= 1

    async def _take(self) -> None:
        while self._queue:
            taken = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
            groups: dict[frozenset[str] | None, list[Queued]] = {}
            for queued in taken:
                if not queued[1].done():  # not cancelled meanwhile
                    groups.setdefault(queued[0][3], []).append(queued)
            for methods, batch in groups.items():
                await self._read(methods, batch)

    async def _read(self, methods: frozenset[str] | None, batch: list[Queued]) -> None:
        params = [
            _ints(want[0] for want, _ in batch),
            _ints(want[1] for want, _ in batch),
            _ints(want[2] for want, _ in batch),
        ]
        if methods is not None:
            params.append(self._methods_literal(methods))
        try:
            rows = await self._run(PAGES_ALL if methods is None else PAGES, params)
            if len(rows) != len(batch):
                raise StoreError(f"read failed: {len(rows)} rows for {len(batch)} pages")
        except Exception as exc:  # the pages queued since may still be read
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except asyncio.CancelledError:  # the store is closing
            for _, future in batch:
                future.cancel()
            raise
        self.statements += 1
        self.pages += len(batch)
        for (_, future), row in zip(batch, rows, strict=True):
            if not future.done():  # a caller cancelled meanwhile: its row is dropped
                future.set_result(row)

    def _methods_literal(self, methods: frozenset[str]) -> str:
        literal = self._literals.get(methods)
        if literal is None:
            if len(self._literals) >= 256:
                self._literals.clear()
            literal = self._literals[methods] = _texts(sorted(methods))
        return literal

    async def close(self) -> None:
        """Fail what is queued and stop the running statements (the store is closing)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        queued, self._queue = self._queue, []
        for _, future in queued:
            if not future.done():
                future.cancel()


def _ints(values: Iterable[int]) -> str:
    """A PostgreSQL array literal of integers."""
    return "{" + ",".join(map(str, values)) + "}"


def _texts(values: Iterable[str]) -> str:
    """A PostgreSQL array literal of strings, each quoted (``NULL``, commas, braces, quotes
    and backslashes are the string itself)."""
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"
