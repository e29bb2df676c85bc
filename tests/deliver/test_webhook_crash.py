"""At least once across a crash: ``dylive serve`` (a subprocess) delivers to a receiver that fails
a fifth of the requests, is SIGKILLed mid-stream and restarted on the same database; every stored
message then reaches the receiver, first arrivals in seq order, every request correctly signed."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import httpx
from support.process import serve_process
from support.receiver import Receiver
from support.waiting import until

from dylive.serve import tokens
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.store import open_store
from dylive.store.migrations import to_signed

SECRET = "crash-test-secret-0123456789"


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
        serve_args = (db, sim.base_url, "--allow-private-webhooks")
        async with serve_process(*serve_args, signing="v2") as (proc, base):
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
        async with serve_process(*serve_args, signing="v2") as (proc, _base):
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
