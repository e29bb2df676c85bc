"""The HTTP side: page/ttwid/__ac_nonce, web/enter, im/fetch continuation, ranklist, gift list,
a_bogus refusals, the control plane."""

from __future__ import annotations

import re
from typing import Any

import httpx

from dylive.proto import webcast_pb2 as pb
from dylive.sim import TEENIE_INTRO
from dylive.wire.frames import parse_response
from dylive.wire.signing import sign_query

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0.0.0 Safari/537.36"
TTWID_RE = re.compile(r"^1%7C[A-Za-z0-9_-]{43}%7C\d{10}%7C[0-9a-f]{64}$")


async def test_page_flow_and_the_spec_regexes(sim: Any, kit: Any) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url, headers={"User-Agent": UA}) as http:
        r = await http.get("/")
        assert TTWID_RE.match(http.cookies["ttwid"])
        http.cookies.delete("__ac_nonce")  # the home page sets one too (see test_sim_defences)
        r = await http.get(f"/{kit.TEENIE}")
        assert "__ac_nonce" in r.headers["set-cookie"]
        assert "roomId" not in r.text  # the anti-crawl page
        assert len(http.cookies["__ac_nonce"]) == 21
        r = await http.get(f"/{kit.TEENIE}")
        html = r.text
    assert "self.__pace_f.push([1," in html
    assert re.search(r'roomId\\":\\"(\d+)\\"', html).group(1) == str(kit.TEENIE_ROOM_ID)
    assert re.search(r'user_unique_id\\":\\"(\d+)\\"', html).group(1).startswith("7")
    assert re.search(r'status_str\\":\\"(\d+)\\"', html).group(1) == "2"
    info = re.search(r'roomInfo\\":(\{.*?\}),\\"emojiList\\"', html).group(1)
    assert "TeenieWeenie女装官方旗舰店" in info
    assert '\\"id_str\\":\\"8401565526815\\"' in info
    assert "MS4wLjABAAAAGYEe4uJArJ3uYEmO7dNXrbRBVmuRWG7a1PGtI7E9W9Q" in info


async def test_unknown_web_rid_page_has_no_room_id(sim: Any) -> None:
    cookies = {"__ac_nonce": "0123456789abcdef01234"}
    async with httpx.AsyncClient(base_url=sim.base_url, cookies=cookies) as http:
        r = await http.get("/404404404")
    assert r.status_code == 200 and "roomId" not in r.text and "直播间不存在" in r.text


async def test_web_enter_status_live_then_ended_then_new_broadcast(sim: Any, kit: Any) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as http:

        async def enter() -> dict[str, Any]:
            r = await http.get("/webcast/room/web/enter/", params={"web_rid": kit.TEENIE})
            body: dict[str, Any] = r.json()
            assert body["status_code"] == 0 and body["extra"]["now"] > 0
            return body["data"]

        data = await enter()
        room = data["data"][0]
        assert (room["id_str"], room["status"], room["status_str"]) == (
            str(kit.TEENIE_ROOM_ID), 2, "2",
        )  # fmt: skip
        assert room["owner"]["nickname"] == "TeenieWeenie女装官方旗舰店"
        assert data["user"]["sec_uid"].startswith("MS4wLjABAAAA")
        assert data["enter_room_id"] == str(kit.TEENIE_ROOM_ID) and data["room_status"] == 0
        sim.end(kit.TEENIE)
        data = await enter()
        assert data["data"][0]["status"] == 4 and data["room_status"] == 2
        sim.start(kit.TEENIE)
        data = await enter()
        assert data["data"][0]["status"] == 2
        assert data["data"][0]["id_str"] != str(kit.TEENIE_ROOM_ID)  # a NEW room_id
        r = await http.get("/webcast/room/web/enter/", params={"web_rid": "11052815917"})
        assert r.json()["data"]["data"][0]["status"] == 4  # the room that is not live
        r = await http.get("/webcast/room/web/enter/", params={"web_rid": "1"})
        assert r.json()["data"]["data"] == []


async def test_im_fetch_backlog_then_exact_continuation(sim: Any, kit: Any) -> None:
    params: dict[str, Any] = {"room_id": kit.TEENIE_ROOM_ID, "need_persist_msg_count": 15}
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        r = await http.get("/webcast/im/fetch/", params=params)
        first = parse_response(r.content)
        assert r.content[:2] != b"\x1f\x8b"  # not gzipped, not wrapped
        assert first.push_server == f"{sim.push_url}"
        assert first.fetch_interval == 1000 and first.now > 0 and not first.need_ack
        assert 1 <= len(first.messages) <= 15
        ids = [m.msg_id for m in first.messages]
        cursor, ext = first.cursor, first.internal_ext
        assert re.match(r"^\d{13}_\d+_1_1$", cursor)
        assert ext.startswith("fetch_time:") and f"next_cursor:{cursor}" in ext
        for _ in range(12):
            r = await http.get(
                "/webcast/im/fetch/", params={**params, "cursor": cursor, "internal_ext": ext}
            )
            batch = parse_response(r.content)
            assert len(batch.messages) <= 50
            ids += [m.msg_id for m in batch.messages]
            cursor, ext = batch.cursor, batch.internal_ext
            import asyncio

            await asyncio.sleep(0.1)
    assert len(ids) == len(set(ids))
    assert ids == kit.log_slice(sim, kit.TEENIE, ids)
    assert len(ids) > 30


async def test_im_fetch_position_older_than_the_buffer_starts_at_oldest_kept(
    sim_factory: Any, kit: Any
) -> None:
    async with (
        sim_factory(replay_max=20, rate=80.0) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as http,
    ):
        import asyncio

        async with asyncio.timeout(60):  # a condition, not a fixed time
            while len(sim.log(kit.TEENIE)) <= 40:  # noqa: ASYNC110 (polls the log)
                await asyncio.sleep(0.05)
        log = sim.log(kit.TEENIE)
        stale = f"1600000000000_{log[0]['msg_id']}_1_1"
        r = await http.get(
            "/webcast/im/fetch/", params={"room_id": kit.TEENIE_ROOM_ID, "cursor": stale}
        )
        batch = parse_response(r.content)
        seqs = {e["msg_id"]: e["seq"] for e in sim.log(kit.TEENIE)}
        first_seq = seqs[batch.messages[0].msg_id]
        assert first_seq > 2  # a real gap the client can see by comparing
        assert first_seq >= sim.room(kit.TEENIE)["kept_from_seq"] - 5


async def test_ranklist_is_computed_from_emitted_gifts(sim_factory: Any, kit: Any) -> None:
    async with sim_factory(rate=0.0, warm_ranking=False) as sim:
        big = {"id": 111222333, "nickname": "土豪", "pay_level": 40}
        small = {"id": 444555666, "nickname": "小粉丝", "fans_level": 3, "club_name": "熊粉团"}
        sim.inject(kit.TEENIE, "WebcastGiftMessage", gift_id=4353, user=big)  # 跑车 1200
        streak = sim.inject(kit.TEENIE, "WebcastGiftMessage", gift_id=2002, count=5, user=small)
        sim.inject(kit.TEENIE, "WebcastGiftMessage", gift_id=463, count=3, user=big)  # 小心心
        assert len(streak) == 5
        async with httpx.AsyncClient(base_url=sim.base_url) as http:
            r = await http.get(
                "/webcast/ranklist/audience/", params={"room_id": kit.TEENIE_ROOM_ID}
            )
            body = r.json()
            fetch = await http.get(
                "/webcast/im/fetch/",
                params={"room_id": kit.TEENIE_ROOM_ID, "need_persist_msg_count": 50},
            )
    data = body["data"]
    assert body["status_code"] == 0 and data["currency"] == "音浪" and data["music_wave"] == "音浪"
    ranks = data["ranks"]
    assert [x["user"]["nickname"] for x in ranks] == ["土豪", "小粉丝"]
    assert [x["score"] for x in ranks] == [1203, 10] and [x["rank"] for x in ranks] == [1, 2]
    user = ranks[1]["user"]
    assert user["fans_club"]["data"]["level"] == 3 and user["fans_club"]["data"]["club_name"]
    assert ranks[0]["user"]["pay_grade"]["level"] == 40 and "avatar_thumb" in user
    assert user["display_id"] and user["sec_uid"].startswith("MS4wLjABAAAA")
    # the streak as it went out: same group_id, repeat_count 1..5, repeat_end on the last
    gifts = [
        pb.GiftMessage.FromString(m.payload)
        for m in parse_response(fetch.content).messages
        if m.method == "WebcastGiftMessage"
    ]
    beer = [g for g in gifts if g.gift_id == 2002]
    assert [g.repeat_count for g in beer] == [1, 2, 3, 4, 5]
    assert [g.repeat_end for g in beer] == [0, 0, 0, 0, 1]
    assert len({g.group_id for g in beer}) == 1
    assert beer[-1].common.describe == "小粉丝:送给主播 5个大啤酒"
    # client-side diamonds (final repeat_count of each streak) match the ranklist
    total = sum(
        g.gift.diamond_count * g.repeat_count * g.group_count for g in gifts if g.repeat_end
    )
    assert total == sum(x["score"] for x in ranks)


async def test_gift_list_catalogue(sim: Any) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        r = await http.get("/webcast/gift/list/", params={"device_platform": "webapp", "aid": 6383})
    gifts = {g["id"]: g for g in r.json()["data"]["gifts"]}
    assert gifts[463]["name"] == "小心心" and gifts[463]["diamond_count"] == 1
    assert gifts[789]["diamond_count"] == 30000 and gifts[4353]["name"] == "跑车"
    assert len(gifts) == 16


async def test_a_bogus_strictness_refuses_unsigned_requests(sim_factory: Any, kit: Any) -> None:
    async with (
        sim_factory(abogus="full") as sim,
        httpx.AsyncClient(base_url=sim.base_url, headers={"User-Agent": UA}) as http,
    ):
        query = f"aid=6383&app_name=douyin_web&live_id=1&web_rid={kit.TEENIE}"
        r = await http.get(f"/webcast/room/web/enter/?{query}")
        assert (r.status_code, r.content) == (200, b"")
        r = await http.get(f"/webcast/room/web/enter/?{sign_query(query, UA)}")
        assert r.json()["data"]["data"][0]["status"] == 2


async def test_intro_message_of_the_contract_room(sim: Any, kit: Any) -> None:
    sim.inject(kit.TEENIE, "WebcastRoomIntroMessage")
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        r = await http.get("/webcast/im/fetch/", params={"room_id": kit.TEENIE_ROOM_ID})
    intros = [
        m for m in parse_response(r.content).messages if m.method == "WebcastRoomIntroMessage"
    ]
    intro = pb.RoomIntroMessage.FromString(intros[-1].payload)
    assert intro.intro == TEENIE_INTRO and intro.common.room_id == 0
    assert intro.user.id == 8401565526815 and intro.user.display_id == "teenieweenie_"


async def test_control_plane(sim: Any, kit: Any) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        rooms = (await http.get("/__sim/rooms")).json()
        assert {"web_rid", "room_id", "status"} <= set(rooms[0])
        assert sorted(r["status"] for r in rooms).count(4) == 1
        r = await http.post("/__sim/rooms", json={"web_rid": "123456", "rate": 0, "seed": 3})
        assert r.json()["status"] == 2
        assert (await http.post("/__sim/rooms", json={"web_rid": "123456"})).status_code == 409
        assert (await http.post("/__sim/rooms", json={"web_rid": "abc"})).status_code == 400
        r = await http.post(
            "/__sim/rooms/123456/inject", json={"method": "WebcastChatMessage", "content": "测试"}
        )
        [entry] = r.json()
        assert entry["method"] == "WebcastChatMessage" and entry["seq"] >= 1
        log = (await http.get("/__sim/rooms/123456/log")).json()
        assert log[-1]["msg_id"] == entry["msg_id"]
        since = (await http.get(f"/__sim/rooms/123456/log?since={entry['seq'] - 1}")).json()
        assert since == [log[-1]]
        assert (await http.get("/__sim/rooms/123456/log?since=x")).status_code == 400
        assert (await http.post("/__sim/rooms/123456/inject", json={})).status_code == 400
        assert (await http.post("/__sim/rooms/123456/rate", json={"rate": 2})).json()["rate"] == 2
        assert (await http.post("/__sim/rooms/123456/end")).json()["status"] == 4
        assert (await http.post("/__sim/rooms/123456/end")).status_code == 409
        assert (await http.post("/__sim/rooms/123456/start")).json()["status"] == 2
        assert (await http.get("/__sim/rooms/nope/log")).status_code == 404
        assert (await http.get("/__sim/nothing/here")).status_code == 404
        stats = (await http.get("/__sim/stats")).json()
        assert {"connections", "frames_sent", "acks_received", "heartbeats_received"} <= set(stats)


async def test_created_of_every_room_in_a_window(sim: Any, kit: Any) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        await http.post("/__sim/rooms", json={"web_rid": "234567", "rate": 0, "seed": 3})
        chat = {"method": "WebcastChatMessage", "content": "x"}
        [first] = (await http.post("/__sim/rooms/234567/inject", json=chat)).json()
        [second] = (await http.post("/__sim/rooms/234567/inject", json=chat)).json()
        everything = (await http.get("/__sim/created")).json()
        log = (await http.get("/__sim/rooms/234567/log")).json()
        assert everything["234567"] == [[e["msg_id"], e["created_at"]] for e in log]
        assert set(everything) == {r["web_rid"] for r in (await http.get("/__sim/rooms")).json()}
        after = second["created_at"]
        window = (await http.get("/__sim/created", params={"from_ms": after})).json()
        assert [second["msg_id"], after] in window["234567"]
        assert all(at >= after for pairs in window.values() for _, at in pairs)
        before = (await http.get("/__sim/created", params={"to_ms": first["created_at"]})).json()
        assert [first["msg_id"], first["created_at"]] in before["234567"]
        assert all(at <= first["created_at"] for pairs in before.values() for _, at in pairs)
        for bad in ({"from_ms": "x"}, {"to_ms": "-1"}, {"from_ms": "5", "to_ms": "4"}):
            r = await http.get("/__sim/created", params=bad)
            assert r.status_code == 400 and r.json()["error"] == "bad_request"
