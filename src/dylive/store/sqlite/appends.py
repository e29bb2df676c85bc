"""An append's writer op, alone or with the other appends of its batch in one statement.

:class:`Append` is the op :meth:`~.events.SQLiteEventLog.append` queues: its rows (the events
table's, built on the loop thread), its upstream position and its fence. Called alone (a
batch run guarded, a savepoint per op; a fenced append) it inserts its rows, reads the newest seq
and writes its position: three statements. A batch run unguarded (see ``engine._run_batch``)
instead hands all its unfenced appends to :func:`run_appends`: one insert of every row, one of
every position (each in statements of several rows: :func:`insert`) and one
``last_insert_rowid()`` for the batch, instead of three statements an append
(docs/benchmarks.md, "Ninth session: the writer thread").

Both give each op what it would get alone, in batch order: the rows it inserted (``INSERT OR
IGNORE``: an msg_id already stored, or earlier in the batch, is not; a batch with one runs again
with each append alone), the positions written in order (the last of a room wins), and the tail
cache its new rows (the engine's ``_known``) or, for an append with a duplicate, its rooms
marked to be read back (``_unknown``).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

from dylive.errors import LeaseLost

from ..migrations import to_unsigned
from ..records import Fence, Record, StoredMessage
from ..rows import POSITION_COLS

if TYPE_CHECKING:
    from .engine import SQLiteEngine

INSERT_EVENTS = (
    "INSERT OR IGNORE INTO events (room_id, msg_id, method, created_at, stored_at, rendered, raw)"
    " VALUES "
)
INSERT_POSITIONS = f"INSERT OR REPLACE INTO upstream_positions ({POSITION_COLS}) VALUES "
#: rows a statement of :func:`insert` holds: a batch's rows go in as few statements of these
#: sizes as add up to them (33 rows: 32 + 1), each prepared once (the connection's statement
#: cache): SQLite starts each execution of an insert afresh (its cursors on the table and each
#: index; AUTOINCREMENT's read and write of ``sqlite_sequence``), 10,000 instructions a row of
#: the events table as one execution a row (``executemany``) against one a batch
#: (docs/benchmarks.md, "Ninth session: the writer thread")
SIZES = (64, 32, 16, 8, 4, 2, 1)


@functools.cache
def _statement(head: str, size: int, width: int, tail: str) -> str:
    row = "(" + ", ".join("?" * width) + ")"
    return head + ", ".join([row] * size) + tail


def insert(
    conn: sqlite3.Connection, head: str, rows: Sequence[tuple[Any, ...]], tail: str = ""
) -> int:
    """``rows`` (tuples of one width) in order by ``head`` (an ``INSERT ... VALUES``) and
    ``tail`` (an upsert's clause), in statements of :data:`SIZES` rows; the rows SQLite changed
    (``INSERT OR IGNORE``: those inserted)."""
    changed, done, left = 0, 0, len(rows)
    width = len(rows[0]) if rows else 0
    for size in SIZES:
        while left >= size:
            values = list(chain.from_iterable(rows[done : done + size]))
            changed += conn.execute(_statement(head, size, width, tail), values).rowcount
            done, left = done + size, left - size
    return changed


_new = tuple.__new__


class Append:
    """One append's writer op (see the module's docstring); ``fenced``: the signed room the
    fence is checked on."""

    __slots__ = ("engine", "fence", "fenced", "pos", "records", "rows", "stored_at")

    def __init__(
        self,
        engine: SQLiteEngine,
        records: Sequence[Record],
        rows: list[tuple[Any, ...]],
        pos: tuple[Any, ...] | None,
        fence: Fence | None,
        fenced: int,
        stored_at: int,
    ) -> None:
        self.engine = engine
        self.records = records
        self.rows = rows
        self.pos = pos
        self.fence = fence
        self.fenced = fenced
        self.stored_at = stored_at

    def __call__(self, conn: sqlite3.Connection) -> int | LeaseLost:
        fence = self.fence
        if fence is not None:
            row = conn.execute(
                "SELECT owner, epoch FROM fleet_rooms WHERE room_id = ?", (self.fenced,)
            ).fetchone()
            if row is None or (row[0], row[1]) != (fence.node, fence.epoch):
                return LeaseLost(to_unsigned(self.fenced), fence.node, fence.epoch)
        inserted = insert(conn, INSERT_EVENTS, self.rows)
        # read now: the position's INSERT below moves last_insert_rowid() to its own row
        newest = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        if self.pos is not None:
            insert(conn, INSERT_POSITIONS, (self.pos,))
        self.settle(inserted, newest)
        return inserted

    def settle(self, inserted: int, newest: int) -> None:
        """The tail cache's part (last in the op: a failed op never gets here): with no
        duplicate the rows have consecutive seqs ending at ``newest`` (AUTOINCREMENT, one
        writer), so no SELECT of them is needed."""
        records = self.records
        if inserted != len(records):
            self.engine._unknown.update(r.room_id for r in records)
            return
        seq, stored_at, known = newest - len(records), self.stored_at, self.engine._known
        for r in records:
            seq += 1
            # tuple.__new__: the NamedTuple's own __new__ is a Python function, twice the cost
            row = _new(
                StoredMessage,
                (seq, r.room_id, r.msg_id, r.method, r.created_at, stored_at, r.rendered),
            )
            rows = known.get(r.room_id)
            if rows is None:
                known[r.room_id] = [row]
            else:
                rows.append(row)


def run_appends(
    conn: sqlite3.Connection, group: list[Append], after: int
) -> tuple[list[int], bool] | None:
    """Every append of ``group`` (unfenced, in batch order) in three statements: the rows each
    inserted, and whether they follow seq ``after`` without a gap (then no other row can have
    been stored since the seq ``after``: the engine needs no SELECT of the new rows' rooms). None
    when a row was a duplicate (the batch is then rolled back and run again with each append
    alone: an ignored row leaves a gap in the AUTOINCREMENT seqs, so the rows are no longer
    consecutive). Raises what a statement raised (the batch then also runs again, each append
    alone, if the error is the data's)."""
    rows = [row for op in group for row in op.rows]
    if insert(conn, INSERT_EVENTS, rows) != len(rows):
        return None  # rare: the collectors de-duplicate msg_ids before they store them
    newest = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
    positions = [op.pos for op in group if op.pos is not None]
    if positions:
        insert(conn, INSERT_POSITIONS, positions)
    end = newest - len(rows)
    # with no row inserted, last_insert_rowid() is an earlier commit's: it proves nothing
    follows = bool(rows) and end == after
    for op in group:  # consecutive seqs up to newest, in batch order
        end += len(op.rows)
        op.settle(len(op.rows), end)
    return [len(op.rows) for op in group], follows
