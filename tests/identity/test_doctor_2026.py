"""``dylive doctor`` on the Douyin of 2026: masked users (a logged-in identity unmasks them) and
a push socket that carries nothing but viewer figures while im/fetch shows a live room."""

from __future__ import annotations

from typing import Any

from dylive.identity.doctor import Check, diagnose
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source.credentials import Identity


def sim() -> SimServer:
    return SimServer(SimConfig(seed=9, rate=40.0, tick=0.05, ping_interval=None))


async def doctor(server: SimServer, cookie: str = "", **kw: Any) -> dict[str, Check]:
    checks = await diagnose(
        DEFAULT_WEB_RID, upstream=server.base_url, identity=Identity(cookie=cookie),
        signing="v2", watch_seconds=kw.pop("watch", 40.0), **kw,
    )  # fmt: skip
    return {c.name: c for c in checks}


async def test_masked_users_for_a_guest_and_real_ones_when_logged_in() -> None:
    async with sim() as server:
        server.set_era(DEFAULT_WEB_RID, mask_guests=True)
        guest = await doctor(server)
        logged = await doctor(server, server.login())
    line = guest["users"].line()
    assert guest["users"].ok is False, line
    assert line.startswith("✗ users: masked (users_masked)") and "logged-in identity" in line
    assert logged["users"].ok is True and logged["login"].ok is True


async def test_a_silent_push_socket_is_reported() -> None:
    async with sim() as server:
        server.set_faults(DEFAULT_WEB_RID, fake_alive=True)  # the socket gets only statistics
        got = await doctor(server)
    line = got["push messages"].line()
    assert got["push messages"].ok is False, line
    assert "silent socket (silent_socket)" in line and "polling" in line
    assert got["im/fetch"].ok is True


async def test_nothing_watched_decides_nothing() -> None:
    async with sim() as server:
        got = await doctor(server, watch=0.0)
    assert got["users"].ok is None and got["push messages"].ok is None
