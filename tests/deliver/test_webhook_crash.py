"""At least once across a crash: ``dylive serve`` (a subprocess) delivers to a receiver that fails
a fifth of the requests, is SIGKILLed mid-stream and restarted on the same database; every stored
message then reaches the receiver, first arrivals in seq order, every request correctly signed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from support.receiver import Receiver
from support.waiting import until

from dylive.serve import tokens
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.store import open_store
from dylive.store.migrations import to_signed

SECRET = "crash-test-secret-0123456789"


@contextlib.asynccontextmanager
async def dylive_serve(
    db: str, upstream: str
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """``dylive serve`` on a free port; yields (base URL, process); always stopped."""
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "dylive", "--log-level", "warning", "serve", "--db", db),
        *("--upstream", upstream, "--port", "0", "--allow-private-webhooks"),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "DYLIVE_SIGNING": "v2"},
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert b"listening on" in line, line
        yield line.decode().rsplit(" ", 1)[-1].strip(), proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def stored_after(db: str, after: int) -> list[tuple[int, int]]:
    """(seq, msg_id) of the default room's stored messages after ``after`` (read-only)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT seq, msg_id FROM events WHERE room_id = ? AND seq > ? ORDER BY seq",
            (to_signed(DEFAULT_ROOM_ID), after),
        ).fetchall()
    finally:
        conn.close()
    return [(seq, msg_id + (1 << 64) if msg_id < 0 else msg_id) for seq, msg_id in rows]


async def test_every_stored_message_arrives_across_a_sigkill(tmp_path: Path) -> None:
    db = str(tmp_path / "crash.sqlite3")
    async with open_store(db) as store:
        token = await tokens.create(store, "crash")
    async with (
        SimServer(SimConfig(seed=9, rate=40.0, tick=0.05)) as sim,
        Receiver(secret=SECRET, fail=0.2) as rx,
    ):
        async with dylive_serve(db, sim.base_url) as (base, proc):
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                resp = await client.post(
                    "/api/webhooks",
                    params={"token": token},
                    json={
                        "url": rx.url,
                        "secret": SECRET,
                        "rooms": [DEFAULT_WEB_RID],
                        "methods": ["all"],
                        "batch_size": 10,
                    },
                )
                assert resp.status_code == 200, resp.text
                start = resp.json()["data"]["positions"][str(DEFAULT_ROOM_ID)]
            await until(lambda: len(rx.all_ids()) >= 60, within=60, what="deliveries before kill")
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        before_restart = len(rx.all_ids())
        async with dylive_serve(db, sim.base_url) as (_base, proc):
            await until(lambda: len(rx.all_ids()) >= before_restart + 60, within=60)
            expected = stored_after(db, start)
            wanted = {msg_id for _, msg_id in expected}
            await until(lambda: wanted <= rx.all_ids(), within=60, what="every stored message")
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
        sim.end(DEFAULT_WEB_RID)
    got = rx.got[DEFAULT_ROOM_ID]
    first_arrival = [i for i in dict.fromkeys(got) if i in wanted]
    assert first_arrival == [msg_id for _, msg_id in expected]
    assert rx.bad_signatures == 0 and rx.failed > 0
