"""``dylive serve`` killed and restarted: the stored messages are the simulator's log, exactly.

The reproduction: a pinned room at a high rate, the server SIGKILLed while the simulator keeps
emitting, restarted on the same database after more than the 15-message backlog was emitted.
Without the durable upstream position the restart resumed at the live edge and lost the
stretch in between. At the end a SIGTERM must store the final position with the last batch.
Each wait for rows fails at once, with the exit code and the service's log, when the service
died meanwhile (it died of SIGBUS under load once: store/sqlite/checkpointer.py's wal_frames).
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path
from typing import Any

from support.process import start_serve
from support.waiting import until

from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.store import SQLiteStore
from dylive.store.migrations import to_signed, to_unsigned


def stored_ids(db: str) -> list[int]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT msg_id FROM events WHERE room_id = ? ORDER BY seq",
            (to_signed(DEFAULT_ROOM_ID),),
        ).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        conn.close()
    return [to_unsigned(r[0]) for r in rows]


def logged(log: Path) -> dict[str, Any]:
    """start_serve's options: stderr to ``log``, with Python's traceback on a fatal signal."""
    return {"log": log, "env": {"PYTHONFAULTHANDLER": "1"}}


async def rows_stored(proc: asyncio.subprocess.Process, db: str, want: int, log: Path) -> None:
    """Wait until ``want`` rows are stored; fail at once if ``dylive serve`` has exited."""

    def check() -> bool:
        if proc.returncode is not None:
            tail = log.read_text(errors="replace")[-6000:]
            raise AssertionError(f"dylive serve exited ({proc.returncode}); its log:\n{tail}")
        return len(stored_ids(db)) >= want

    await until(check, 60, what=f"{want} rows stored")


async def test_sigkill_restarts_lose_nothing_and_sigterm_stores_the_final_position(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "durable.sqlite3")
    async with SimServer(SimConfig(seed=31, rate=100.0, tick=0.05)) as sim:

        def emitted() -> int:
            return len(sim.log(DEFAULT_WEB_RID))

        for kill in range(2):
            log = tmp_path / f"serve{kill}.log"
            proc, _base = await start_serve(
                db, sim.base_url, "--room", DEFAULT_WEB_RID, **logged(log)
            )
            await rows_stored(proc, db, len(stored_ids(db)) + 50, log)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            down_at = emitted()
            await until(lambda down_at=down_at: emitted() >= down_at + 60, 60)  # > the backlog
        log = tmp_path / "serve2.log"
        proc, _base = await start_serve(db, sim.base_url, "--room", DEFAULT_WEB_RID, **logged(log))
        await rows_stored(proc, db, len(stored_ids(db)) + 50, log)
        proc.send_signal(signal.SIGTERM)
        # uvicorn stops gracefully, then re-raises the signal: -SIGTERM after a clean shutdown
        assert await asyncio.wait_for(proc.wait(), 30) in (0, -signal.SIGTERM)
        emitted_ids = [int(e["msg_id"]) for e in sim.log(DEFAULT_WEB_RID)]
    stored = stored_ids(db)
    start_at = emitted_ids.index(stored[0])
    assert stored == emitted_ids[start_at : start_at + len(stored)], "lost, repeated or reordered"
    async with SQLiteStore(db) as store:
        position = await store.upstream_position(DEFAULT_ROOM_ID)
    assert position is not None and position.last_msg_id == stored[-1]
    assert position.transport in ("push", "poll") and position.internal_ext
