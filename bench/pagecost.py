"""A history page's SQL with the rooms' rows interleaved, by page index layout; prints figures.

``bench/history.py`` reads one room's 100,000 rows: its rows are contiguous in the table, so a
page index that reads each row from the table (by seq) reads few table pages. In the service the
rows of ``--rooms`` rooms interleave (one append of 3 rows a room in turn), so a 50-row page of
one room reads ~50 table pages. This builds one database per layout with ``--rows`` such rows
(``api.record``'s rendered JSON, 947 raw bytes) and times, alternated ``--rounds`` times, 400
pages of random rooms and cursors each: the chat endpoint's statement (``pages._filter``, the
default method filter: ``joined``) and the row page (``pages._PAGE_SQL``: ``rows``), as CPU time
of this thread per page (min and median of the rounds).

Layouts: ``covering`` (``events_room_page``: every page column, the rendered JSON too, in the
index; schema step 5) and ``narrow`` (``events_room_seq (room_id, seq)``; step 15).

Usage: ``python bench/pagecost.py [--rooms 200 --rows 200000 --rounds 6 --dir DIR]`` (``--dir``:
keep the databases there and reuse them).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import record

from dylive.store.sqlite.pages import _PAGE_SQL, _filter

TABLE = (
    "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, room_id INTEGER NOT NULL,"
    " msg_id INTEGER NOT NULL, method TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " stored_at INTEGER NOT NULL, rendered BLOB NOT NULL, raw BLOB NOT NULL);"
    " CREATE UNIQUE INDEX events_room_msg ON events (room_id, msg_id);"
)
LAYOUTS = {
    "covering": "CREATE INDEX events_room_page"
    " ON events (room_id, seq, msg_id, method, created_at, stored_at, rendered);",
    "narrow": "CREATE INDEX events_room_seq ON events (room_id, seq);",
}
METHODS = frozenset({"WebcastChatMessage", "WebcastGiftMessage", "WebcastMemberMessage"})


def build(path: Path, ddl: str, rooms: int, rows: int) -> None:
    sample, raw = record(1, 1), os.urandom(947)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(TABLE + ddl)
    conn.execute("BEGIN")
    for turn in range(rows // 3):
        conn.executemany(
            "INSERT INTO events (room_id, msg_id, method, created_at, stored_at, rendered, raw)"
            " VALUES (?, ?, ?, 1, 2, ?, ?)",
            [(turn % rooms, turn * 3 + k, sample.method, sample.rendered, raw) for k in range(3)],
        )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def main(args: argparse.Namespace, where: Path) -> None:
    conns = {}
    for name, ddl in LAYOUTS.items():
        path = where / f"{name}.db"
        if not path.exists():
            build(path, ddl, args.rooms, args.rows)
        conns[name] = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    joined, _, _, wanted = _filter(METHODS)
    got: dict[tuple[str, str], list[float]] = {}
    for n in range(args.rounds):
        for name, conn in conns.items():
            for kind in ("joined", "rows"):
                rng = random.Random(n)
                started = time.thread_time()
                for _ in range(400):
                    room, after = rng.randrange(args.rooms), rng.randrange(args.rows)
                    if kind == "joined":
                        conn.execute(joined, (*wanted, room, after, 50)).fetchone()
                    else:
                        conn.execute(_PAGE_SQL, (room, after, 50)).fetchall()
                spent = (time.thread_time() - started) / 400 * 1e6
                got.setdefault((name, kind), []).append(spent)
    print(f"pagecost: {args.rooms} rooms, {args.rows:,} rows, {args.rounds} rounds")
    for (name, kind), values in got.items():
        print(
            f"  {name:<9} {kind:<7} min {min(values):6.1f} µs, median"
            f" {statistics.median(values):6.1f} µs a 50-row page"
        )
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--dir", default="", help="keep (and reuse) the databases here")
    parsed = parser.parse_args()
    if parsed.dir:
        Path(parsed.dir).mkdir(parents=True, exist_ok=True)
        main(parsed, Path(parsed.dir))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(parsed, Path(tmp))
