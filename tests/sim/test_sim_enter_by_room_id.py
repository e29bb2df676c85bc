"""web/enter answers for a bare room_id (``room_id_str``, no ``web_rid``), signed in strict mode."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

from dylive.wire.signing import sign_query

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0.0.0 Safari/537.36"


def enter_query(web_rid: str, room_id: str) -> str:
    params = {
        "aid": "6383",
        "app_name": "douyin_web",
        "live_id": "1",
        "device_platform": "web",
        "web_rid": web_rid,
        "room_id_str": room_id,
        "msToken": "x" * 107,
    }
    return sign_query(urlencode(params), UA)


async def enter(http: httpx.AsyncClient, web_rid: str = "", room_id: str = "") -> dict[str, Any]:
    r = await http.get(f"/webcast/room/web/enter/?{enter_query(web_rid, room_id)}")
    assert r.status_code == 200 and r.content, "signed request refused"
    body: dict[str, Any] = r.json()
    assert body["status_code"] == 0
    return body["data"]


async def test_web_enter_by_room_id_str(sim_factory: Any, kit: Any) -> None:
    async with (
        sim_factory(abogus="full") as sim,
        httpx.AsyncClient(base_url=sim.base_url, headers={"User-Agent": UA}) as http,
    ):
        data = await enter(http, room_id=str(kit.TEENIE_ROOM_ID))
        room = data["data"][0]
        assert (room["id_str"], room["status"]) == (str(kit.TEENIE_ROOM_ID), 2)
        assert room["owner"]["nickname"] == "TeenieWeenie女装官方旗舰店"
        assert data["enter_room_id"] == str(kit.TEENIE_ROOM_ID) and data["room_status"] == 0
        # an unknown room_id: no room, like an unknown web_rid
        assert (await enter(http, room_id="7000000000000000001"))["data"] == []
        # web_rid wins over room_id_str
        other = next(r for r in sim.rooms() if r["web_rid"] != kit.TEENIE)
        data = await enter(http, web_rid=other["web_rid"], room_id=str(kit.TEENIE_ROOM_ID))
        assert data["data"][0]["id_str"] == str(other["room_id"])
        # an earlier broadcast: described as itself (its own room_id, ended); the new one is live
        sim.end(kit.TEENIE)
        sim.start(kit.TEENIE)
        new_id = sim.room_id(kit.TEENIE)
        old = (await enter(http, room_id=str(kit.TEENIE_ROOM_ID)))["data"][0]
        assert (old["id_str"], old["status"]) == (str(kit.TEENIE_ROOM_ID), 4)
        new = (await enter(http, room_id=str(new_id)))["data"][0]
        assert (new["id_str"], new["status"]) == (str(new_id), 2)
        # strict mode: the same request unsigned is refused like Douyin (200, empty body)
        unsigned = enter_query("", str(new_id)).rsplit("&a_bogus=", 1)[0]
        r = await http.get(f"/webcast/room/web/enter/?{unsigned}")
        assert r.status_code == 200 and r.content == b""
