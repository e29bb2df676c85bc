"""``dylive doctor`` against the simulator in each of its modes: lines, verdicts, exit codes."""

from __future__ import annotations

from typing import Any

import httpx
from support.process import run_dylive

from dylive.identity.doctor import Check, diagnose
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.sim.defences import Defences
from dylive.source.credentials import Identity

WATCH = 40.0


def sim(**defences: Any) -> SimServer:
    cfg = SimConfig(seed=9, rate=40.0, tick=0.05, ping_interval=None)
    cfg.defences = Defences(**defences)
    return SimServer(cfg)


async def doctor(server: SimServer, cookie: str = "", **kw: Any) -> dict[str, Check]:
    checks = await diagnose(
        DEFAULT_WEB_RID, upstream=server.base_url, identity=Identity(cookie=cookie),
        signing="v2", watch_seconds=kw.pop("watch", WATCH), **kw,
    )  # fmt: skip
    return {c.name: c for c in checks}


def verdicts(checks: dict[str, Check]) -> dict[str, bool | None]:
    return {name: c.ok for name, c in checks.items()}


async def test_guest_on_a_plain_simulator_passes() -> None:
    async with sim() as server:
        got = await doctor(server)
    assert verdicts(got) == {
        "home page": True, "ttwid": True, "room page": True, "web/enter (signed)": True,
        "im/fetch": True, "push handshake (signed)": True, "ranklist": True, "login": None,
        "gift visibility": True, "users": True, "push messages": True, "proxy exit": None,
    }  # fmt: skip
    assert got["gift visibility"].line().startswith("✓ gift visibility: visible")


async def test_guest_with_gifts_needing_login_fails_on_gifts() -> None:
    async with sim(gifts_need_login=True) as server:
        got = await doctor(server)
    assert got["gift visibility"].ok is False
    line = got["gift visibility"].line()
    assert line.startswith("✗ gift visibility: hidden") and "logged-in cookie" in line


async def test_logged_in_cookie_and_its_expiry() -> None:
    async with sim(gifts_need_login=True) as server:
        cookie = server.login()
        got = await doctor(server, cookie)
        assert got["login"].ok is True and got["gift visibility"].ok is True
        server.expire_login(cookie)
        got = await doctor(server, cookie, watch=0.0)
    assert got["login"].ok is False and "expired" in got["login"].detail


async def test_flagged_identity_is_refused() -> None:
    async with sim(risk_exits=True, risk_cooldown=60.0) as server:
        cookie = server.login()
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(transport=transport, headers={"Cookie": cookie}) as http:
            enter = f"{server.base_url}/webcast/room/web/enter/?web_rid={DEFAULT_WEB_RID}"
            await http.get(enter)  # the same cookie from another exit
        got = await doctor(server, cookie, watch=0.0)
    assert got["im/fetch"].ok is False and got["push handshake (signed)"].ok is False
    assert "DEVICE_BLOCKED" in got["push handshake (signed)"].line()
    assert "risk control" in got["push handshake (signed)"].line()


async def test_verification_page_and_dead_upstream() -> None:
    async with sim(verification="always") as server:
        got = await doctor(server, watch=0.0)
    assert got["room page"].ok is False and "verification" in got["room page"].detail
    assert got["web/enter (signed)"].ok is False
    dead = await diagnose(
        DEFAULT_WEB_RID, upstream="http://127.0.0.1:9", identity=Identity(), watch_seconds=0
    )
    assert dead[0].ok is False and all(c.ok is not True for c in dead)


async def test_cli_exit_codes_and_one_line_per_check(tmp_path: Any) -> None:
    db = str(tmp_path / "d.sqlite3")
    async with sim(gifts_need_login=True) as server:
        up = ("--upstream", server.base_url)
        code, out, err = await run_dylive("doctor", DEFAULT_WEB_RID, *up, "--watch", str(WATCH))
        assert code == 1 and "Traceback" not in err
        lines = out.strip().splitlines()
        assert len(lines) == 13 and lines[-1].endswith("skipped")
        assert lines[0].startswith("✓ home page") and "✗ gift visibility" in out
        cookie = server.login()
        code, out, err = await run_dylive(
            "identities", "add", "alice", "--cookie", cookie, "--db", db
        )
        assert code == 0 and cookie.split("; ")[0] not in out, out
        args = ("doctor", DEFAULT_WEB_RID, *up, "--identity", "alice", "--db", db)
        code, out, err = await run_dylive(*args, "--watch", str(WATCH))
        assert code == 0, out + err
        assert "✓ login" in out and "✓ gift visibility" in out
        code, out, err = await run_dylive("doctor", "--identity", "nobody", "--db", db, *up)
        assert code == 2 and "no identity named" in err and "Traceback" not in err
