"""Layouts of the SQLite ``events`` table under the writer's load; prints figures (no assertions).

A raw loop on one connection, no store, no event loop: ``--rooms`` rooms take turns appending 3
rows (the ~560-byte rendered JSON of ``bench/api.py``'s record and 220 raw bytes) and an upstream
position, each append inside a savepoint as the store's writer ran it before the fourth session,
``--ops`` appends a commit (16: 200 rooms at 4 push frames a second, 20 ms group commit), WAL,
``synchronous=NORMAL``, ``wal_autocheckpoint=10000``. ``--prefill`` commits run before the
measured ``--commits``. Prints the thread CPU per row of each layout, alternating layouts
``--repeat`` times (rows are built beforehand: only SQLite and the binding are measured).

Layouts: ``now`` (seq AUTOINCREMENT rowid table, unique (room_id, msg_id), covering page index
with the rendered JSON), ``rowid`` (the same without AUTOINCREMENT), ``thin`` (a (room_id, seq)
page index instead of the covering one), ``clustered`` (a WITHOUT ROWID table keyed (room_id,
seq) holding every column: the rendered JSON once, in page order; unique (room_id, msg_id)),
``split`` (the clustered table without ``raw``, which goes to a rowid table keyed by seq),
``nounique`` (``now`` without the unique index: what de-duplication costs), ``msgfirst`` (the
unique index as (msg_id, room_id): the same constraint, in time order rather than room order when
msg_ids are Douyin's; no savepoint). ``now-nosp``: ``now`` without a savepoint per append (the
store's writer since the fourth session). ``--ids douyin``: msg_ids as the simulator and Douyin
make them (unix seconds << 32 | random, per room increasing) instead of consecutive per room;
``--rows``: rows an append (one push frame: 3; more: what a room's frames held together cost).

Usage: ``python bench/sqlite_schemas.py [--layouts now,split,thin --repeat 3 --rooms 200
--ids douyin --rows 3]``.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import record

_COLS = (
    "msg_id INTEGER NOT NULL, method TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " stored_at INTEGER NOT NULL, rendered BLOB NOT NULL"
)
_ROWID = (
    "CREATE TABLE events (seq INTEGER PRIMARY KEY{auto}, room_id INTEGER NOT NULL,"
    f" {_COLS}, raw BLOB NOT NULL);"
)
_UNIQUE = "CREATE UNIQUE INDEX events_room_msg ON events (room_id, msg_id);"
_PAGE = (
    "CREATE INDEX events_room_page"
    " ON events (room_id, seq, msg_id, method, created_at, stored_at, rendered);"
)
_CLUSTERED = (
    "CREATE TABLE events (room_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    f" {_COLS}{{raw}}, PRIMARY KEY (room_id, seq)) WITHOUT ROWID;"
)
_NOW = _ROWID.format(auto=" AUTOINCREMENT")
LAYOUTS = {
    "now": _NOW + _UNIQUE + _PAGE,
    "now-nosp": _NOW + _UNIQUE + _PAGE,
    "rowid": _ROWID.format(auto="") + _UNIQUE + _PAGE,
    "thin": _NOW + _UNIQUE + "CREATE INDEX events_room_seq ON events (room_id, seq);",
    "clustered": _CLUSTERED.format(raw=", raw BLOB NOT NULL") + _UNIQUE,
    "split": _CLUSTERED.format(raw="")
    + _UNIQUE
    + "CREATE TABLE raws (seq INTEGER PRIMARY KEY, raw BLOB NOT NULL);",
    "nounique": _NOW + _PAGE,
    "msgfirst": _NOW + _UNIQUE.replace("(room_id, msg_id)", "(msg_id, room_id)") + _PAGE,
}
_POSITIONS = """CREATE TABLE upstream_positions (room_id INTEGER PRIMARY KEY, transport TEXT,
    cursor TEXT, internal_ext TEXT, push_server TEXT, last_msg_id INTEGER, updated_at INTEGER)"""
_INSERT = (
    "INSERT OR IGNORE INTO events (room_id, msg_id, method, created_at, stored_at, rendered, raw)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_SEQ = (
    "INSERT OR IGNORE INTO events (room_id, seq, msg_id, method, created_at, stored_at,"
    " rendered{raw}) VALUES (?, ?, ?, ?, ?, ?, ?{mark})"
)
_POSITION = "INSERT OR REPLACE INTO upstream_positions VALUES (?, ?, ?, ?, ?, ?, ?)"


def run(
    layout: str, rooms: int, ops: int, commits: int, prefill: int, ids: str, per: int = 3
) -> float:
    """One layout on a fresh file: thread CPU µs per row over ``commits`` commits."""
    tmp = tempfile.mkdtemp()
    conn = sqlite3.connect(Path(tmp) / "s.db", isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "wal_autocheckpoint=10000"):
        conn.execute(f"PRAGMA {pragma}")
    conn.executescript(LAYOUTS[layout] + _POSITIONS)
    sample = record(7_000_000_000_000_000_000, 1)
    seq, turn = 0, 0
    msgs = [3_000_000_000_000_000_000 + r * 10**9 for r in range(rooms)]
    savepoint = layout not in ("now-nosp", "msgfirst")
    rng = random.Random(1)
    last = [0] * rooms
    t0 = 1_765_000_000_000

    def next_id(r: int, i: int) -> int:
        if ids == "room":
            return msgs[r] + i
        # Douyin-like (as the simulator's IdAllocator): unix seconds << 32 | random, per room
        # increasing; the clock advances with the appends (4 a second per room)
        ms = t0 + turn * 250 * per // (3 * rooms)
        last[r] = max(last[r] + 1 + rng.getrandbits(8), ((ms // 1000) << 32) | rng.getrandbits(20))
        return last[r]

    def commit() -> None:
        nonlocal seq, turn
        conn.execute("BEGIN IMMEDIATE")
        for _ in range(ops):
            r, turn = turn % rooms, turn + 1
            room_id, msg = 1_000_000_000_000_000_000 + r * 7919, msgs[r]
            msgs[r] += per
            now = time.time_ns() // 1_000_000
            body = (sample.method, sample.created_at, now, sample.rendered, sample.raw)
            rows = [(room_id, next_id(r, i), *body) for i in range(per)]
            if savepoint:
                conn.execute("SAVEPOINT op")
            if layout in ("clustered", "split"):
                numbered = []
                for row in rows:
                    seq += 1
                    numbered.append((row[0], seq, *row[1:]))
                if layout == "clustered":
                    conn.executemany(_INSERT_SEQ.format(raw=", raw", mark=", ?"), numbered)
                else:
                    conn.executemany(_INSERT_SEQ.format(raw="", mark=""), [n[:7] for n in numbered])
                    conn.executemany(
                        "INSERT INTO raws VALUES (?, ?)", [(n[1], n[7]) for n in numbered]
                    )
            else:
                conn.executemany(_INSERT, rows)
                conn.execute("SELECT last_insert_rowid()").fetchone()
            position = (room_id, "push", f"c{msg}", f"internal_src:dim|seq:{msg}", "", msg, now)
            conn.execute(_POSITION, position)
            if savepoint:
                conn.execute("RELEASE op")
        conn.execute("COMMIT")

    try:
        for _ in range(prefill):
            commit()
        start = time.thread_time()
        for _ in range(commits):
            commit()
        return (time.thread_time() - start) / (commits * ops * per) * 1e6
    finally:
        conn.close()
        shutil.rmtree(tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", default="now,now-nosp,rowid,thin,clustered,split,nounique")
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--ops", type=int, default=16)
    parser.add_argument("--commits", type=int, default=1500)
    parser.add_argument("--prefill", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, default=3, help="rows an append (3: one push frame)")
    parser.add_argument(
        "--ids",
        choices=("room", "douyin"),
        default="room",
        help="msg_ids: per room consecutive (room), or Douyin-like (unix seconds << 32 | random)",
    )
    args = parser.parse_args()
    layouts = args.layouts.split(",")
    print(f"sqlite {sqlite3.sqlite_version}, {args.rooms} rooms, load {os.getloadavg()[0]:.2f}")
    got: dict[str, list[float]] = {name: [] for name in layouts}
    for _ in range(args.repeat):
        for name in layouts:
            got[name].append(
                run(name, args.rooms, args.ops, args.commits, args.prefill, args.ids, args.rows)
            )
            print(f"  {name}: {got[name][-1]:.1f} µs/row", flush=True)
    base = statistics.median(got[layouts[0]])
    for name in layouts:
        median = statistics.median(got[name])
        rounds = ", ".join(f"{v:.1f}" for v in got[name])
        print(f"{name:>10}: {median:5.1f} µs/row ({rounds}); vs {layouts[0]}: {median / base:.2f}")
    print(f"load average → {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
