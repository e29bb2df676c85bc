"""What a commit costs the readers of an SQLite database in WAL mode: a chat page read (50 rows
of one room, 200 rooms interleaved, as bench/pagecost.py lays them out) with and without another
connection committing between two reads.

    .venv/bin/python bench/readcache.py [--mmap BYTES] [--rounds 3] [--reads 3000]

SQLite drops a connection's whole page cache when its next read transaction finds the database
changed (any commit, by any connection), so after a commit every page of the next read comes from
the OS again (a ``pread`` each). The service's writer commits many times a second, so its history
pages are read mostly this way. ``--mmap`` sets the reader's ``mmap_size`` (memory-mapped reads
instead of ``pread``). Thread CPU of the reads alone; rounds alternate without / with commits.
Plain ``sqlite3``, no dylive code: a fact about SQLite on this machine.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import time
from pathlib import Path

PAGE = "SELECT seq, rendered FROM events WHERE room_id = ? AND seq > ? ORDER BY seq LIMIT 50"


def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "readcache.sqlite3")
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA synchronous=NORMAL")
        writer.execute(
            "CREATE TABLE events(seq INTEGER PRIMARY KEY, room_id INTEGER, rendered BLOB)"
        )
        writer.execute("CREATE INDEX events_room_seq ON events(room_id, seq)")
        writer.execute("CREATE TABLE positions(k INTEGER PRIMARY KEY, v INTEGER)")
        body = b"x" * 560  # a rendered message's average size in api.py c
        writer.execute("BEGIN")
        writer.executemany(
            "INSERT INTO events(room_id, rendered) VALUES (?, ?)",
            ((i % args.rooms, body) for i in range(args.rows)),
        )
        writer.execute("COMMIT")
        writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("PRAGMA cache_size=-65536")  # 64 MB: the whole database fits
        if args.mmap:
            reader.execute(f"PRAGMA mmap_size={args.mmap}")
        rng = random.Random(1)
        print(f"{args.rows:,} rows of {args.rooms} rooms; mmap_size {args.mmap}", flush=True)
        for rnd in range(args.rounds):
            for commits in (False, True):
                spent = 0.0
                for i in range(args.reads):
                    if commits:
                        writer.execute("INSERT OR REPLACE INTO positions VALUES (1, ?)", (i,))
                    started = time.thread_time()
                    room, after = rng.randrange(args.rooms), rng.randrange(args.rows - 10_000)
                    reader.execute(PAGE, (room, after)).fetchall()
                    spent += time.thread_time() - started
                label = "a commit before each read" if commits else "no commits"
                print(
                    f"  round {rnd + 1}, {label:26}: {spent / args.reads * 1e6:6.1f} µs a page"
                    f" (load {os.getloadavg()[0]:.2f})",
                    flush=True,
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mmap", type=int, default=0, help="the reader's mmap_size (bytes)")
    main(parser.parse_args())
