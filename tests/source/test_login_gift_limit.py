"""A logged-in socket that gets only its first few gifts (``--login-gift-limit``, one 2026
report) is seen like hidden gifts: the fan-ticket total keeps growing without gift messages."""

from __future__ import annotations

from dataclasses import replace

from support.simkit import FAST, Run, collecting, fast_backoff, wait_for

from dylive.decode import GiftEvent
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source.collector import Room


async def test_login_gift_limit_reports_gifts_hidden() -> None:
    cfg = SimConfig(seed=14, rate=60.0, tick=0.05, heartbeat_timeout=5.0, ping_interval=None)
    async with SimServer(cfg) as sim:
        sim.set_era(DEFAULT_WEB_RID, login_gift_limit=2)
        room = Room(
            DEFAULT_WEB_RID, upstream=sim.base_url, cookie=sim.login("viewer"),
            options=replace(FAST, transport="push", fake_alive_timeout=30.0),
            backoff=fast_backoff(),
        )  # fmt: skip
        run = Run()
        async with room, collecting(room, run):
            assert await wait_for(lambda: "gifts_hidden" in room.degraded(), 30.0), room.status()
            withheld = sum(c["gifts_withheld"] for c in sim.connections(DEFAULT_WEB_RID))
    assert withheld > 0
    assert room.coverage.as_dict()["gifts"] == "hidden"
    assert any(isinstance(e, GiftEvent) for e in run.events)  # the first ones did arrive
