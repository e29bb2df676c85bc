"""End to end against the Douyin of 2026 (``dylive sim --era 2026``: masked users for guests,
silent cookie-less sockets, doubled gifts, 2026 wire details, risk by address).

With one logged-in identity a broadcast's report equals the simulator's ground truth despite the
doubled gifts; as a guest the room reports ``users_masked`` and ``gifts_hidden``, chat users
carry distinct webcast_uids with ``masked: true``, and the unique chatters still equal the
simulator's."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from support.waiting import until

from dylive.identity.pool import PoolOptions
from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import SimConfig, SimServer
from dylive.sim.defences import Defences
from dylive.sim.era import Era

WEB_RID = "90000000021"
CHAT = "WebcastChatMessage"


def era_2026(**defences: Any) -> SimServer:
    cfg = SimConfig(seed=21, rate=60.0, tick=0.05, era=Era.named("2026"))
    cfg.defences = Defences(risk_by_address=True, **defences)
    return SimServer(cfg)


async def collect(
    sim: SimServer, serve_api: Any, config: ServiceConfig, *, gifts: int
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Pin the room, let it run until ``gifts`` gifts were sent, end it; the session report,
    every stored chat payload, and the room's status seen while it was live."""
    sim.create_room(WEB_RID, rate=0, title="2026")
    async with (
        serve_api(config) as (base, svc),
        httpx.AsyncClient(base_url=base, timeout=30) as client,
    ):
        auth = {"token": await tokens.create(svc.store, "era2026")}
        resp = await client.post(f"/api/rooms/{WEB_RID}/pin", params=auth)
        assert resp.status_code == 200, resp.text
        room_id = sim.room(WEB_RID)["room_id"]

        async def opening() -> bool:
            return await svc.store.last_seq(room_id) > 0

        await until(opening, 60, "the opening messages to be stored")
        sim.set_rate(WEB_RID, 60.0)
        await until(lambda: sim.totals(WEB_RID, 1)["gifts"] >= gifts, 60, "gifts to be sent")

        async def status() -> dict[str, Any] | None:
            body: dict[str, Any] = (await client.get(f"/api/rooms/{WEB_RID}", params=auth)).json()
            return body["data"] if body["data"].get("degraded") is not None else None

        live = await until(status, 30, "the room status")
        if config.cookie == "":
            # a guest: wait until the coverage has seen both degradations
            async def both() -> dict[str, Any] | None:
                s = await status()
                wanted = {"users_masked", "gifts_hidden"}
                return s if s is not None and wanted <= set(s["degraded"]) else None

            live = await until(both, 60, "users_masked and gifts_hidden")
        sim.end(WEB_RID)

        async def ended() -> list[dict[str, Any]] | None:
            r = await client.get(f"/api/rooms/{WEB_RID}/sessions", params=auth)
            sessions: list[dict[str, Any]] = r.json()["data"]["sessions"]
            return sessions if sessions and sessions[0]["ended_at"] else None

        session = (await until(ended, 60, "the session to end"))[0]
        url = f"/api/sessions/{session['id']}/report"
        report = (await client.get(url, params={**auth, "top": 10_000})).json()["data"]
        page = await svc.store.read(room_id, 0, 1_000_000, frozenset({CHAT}))
        chats = [{"msg_id": m.msg_id, **orjson.loads(m.rendered)["payload"]} for m in page.messages]
    return report, chats, live


async def test_logged_in_report_equals_the_simulator_despite_doubled_gifts(
    serve_api: Any, tmp_path: Any
) -> None:
    async with era_2026() as sim:
        config = ServiceConfig(
            db=str(tmp_path / "a.sqlite3"), upstream=sim.base_url, signing="v2",
            cookie=sim.login("collector"),
        )  # fmt: skip
        report, _chats, live = await collect(sim, serve_api, config, gifts=40)
        truth = sim.totals(WEB_RID, 1)
    assert truth["gift_copies"] > 0  # the simulator did double its gifts
    assert report["gifts"] == truth["gifts"] > 0
    assert report["gift_diamonds"] == truth["gift_diamonds"] > 0
    assert report["unique_chatters"] == truth["unique_chatters"] > 0
    top = report["top_gifters"][0]
    assert [top["uid"], top["diamonds"]] == truth["top_gifters"][0]
    assert [[g["uid"], g["diamonds"]] for g in report["top_gifters"]] == truth["top_gifters"]
    assert "users_masked" not in live["degraded"]


async def test_guest_sees_masked_users_and_hidden_gifts_and_counts_chatters_exactly(
    serve_api: Any, tmp_path: Any
) -> None:
    async with era_2026(gifts_need_login=True) as sim:
        config = ServiceConfig(
            db=str(tmp_path / "g.sqlite3"), upstream=sim.base_url, signing="v2", cookie="",
            pool=PoolOptions(allow_guests=True),  # DYLIVE_ALLOW_GUESTS=true
        )  # fmt: skip
        report, chats, live = await collect(sim, serve_api, config, gifts=20)
        truth = sim.totals(WEB_RID, 1)
        log = sim.log(WEB_RID)
    assert {"users_masked", "gifts_hidden"} <= set(live["degraded"])
    users = [c["user"] for c in chats]
    assert users and all(u["masked"] is True and u["uid"] == 111111 for u in users)
    assert all(u["nickname"].endswith("***") and u["sec_uid"] == "" for u in users)
    tokens_by_uid: dict[int, set[str]] = {}
    by_msg = {int(e["msg_id"]): e for e in log}
    for chat in chats:  # the simulator's log knows who really sent each chat
        real = int(by_msg[chat["msg_id"]]["uid"])
        tokens_by_uid.setdefault(real, set()).add(chat["user"]["webcast_uid"])
    assert all(len(t) == 1 for t in tokens_by_uid.values())  # one webcast_uid per user …
    distinct = {next(iter(t)) for t in tokens_by_uid.values()}
    assert len(distinct) == len(tokens_by_uid) > 1  # … and a different one for each user
    assert report["unique_chatters"] == truth["unique_chatters"] == len(tokens_by_uid)
    assert report["gifts"] == 0 < truth["gifts"]  # hidden from guests, and said so
