"""The simulator's Douyin defences, each against a client written from the protocol facts only
(httpx, websockets, the frame codec, the push signer): logins, hidden gifts, risk control,
request checks, and the fidelity a DouyinLiveWebFetcher-style client needs."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import websockets
from support.waiting import reached

from dylive.proto import webcast_pb2 as pb
from dylive.sim.cli import config_from_args, register
from dylive.sim.defences import Defences
from dylive.wire.frames import HEARTBEAT_FRAME, parse_response
from dylive.wire.session import PushSession
from dylive.wire.signing import sign_push

GIFT = "WebcastGiftMessage"
FAN_TICKET = "WebcastUpdateFanTicketMessage"
BLOCKED = {"handshake-status": "415", "handshake-msg": "DEVICE_BLOCKED"}


async def fetch(sim: Any, room_id: int, cookie: str = "", **params: Any) -> httpx.Response:
    headers = {"Cookie": cookie} if cookie else {}
    async with httpx.AsyncClient(base_url=sim.base_url, headers=headers) as http:
        return await http.get("/webcast/im/fetch/", params={"room_id": room_id, **params})


async def handshake(sim: Any, kit: Any, room_id: int, *, headers: Any = None, **extra: str) -> Any:
    """Open and return a push socket, or the refusal response."""
    params = kit.push_params(room_id)
    params.update(extra)
    if extra:
        params["signature"] = sign_push(params)
    url = f"{sim.push_url}?{urlencode(params)}"
    try:
        return await websockets.connect(url, additional_headers=headers or {}, max_size=None)
    except websockets.InvalidStatus as exc:
        return exc.response


def refused(result: Any) -> bool:
    headers = getattr(result, "headers", None)
    return headers is not None and all(headers.get(k) == v for k, v in BLOCKED.items())


async def read_methods(ws: Any, seconds: float, stop: set[str] | None = None) -> list[str]:
    """Methods of every message received for ``seconds`` (heartbeating meanwhile), or until
    every method of ``stop`` was seen."""
    session, methods = PushSession(), []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    with contextlib.suppress(TimeoutError, websockets.ConnectionClosed):
        while loop.time() < end and not (stop and stop <= set(methods)):
            async with asyncio.timeout(max(0.01, end - loop.time())):
                data = await ws.recv()
            methods += [m.method for m in session.receive_frame(data)]
            await ws.send(HEARTBEAT_FRAME)
            for out in session.data_to_send():
                await ws.send(out)
    return methods


# ---------------------------------------------------------------- fidelity for other clients


async def test_home_sets_ac_nonce_and_ttwid_even_when_one_is_sent(sim: Any) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        first = await http.get("/")
        ttwid = first.cookies["ttwid"]
        assert len(first.cookies["__ac_nonce"]) == 21
        again = await http.get("/", headers={"Cookie": f"ttwid={ttwid}"})
    assert again.cookies["ttwid"] == ttwid  # set again, the visitor's own
    assert len(again.cookies["__ac_nonce"]) == 21


async def test_raw_plus_in_the_push_signature_is_accepted(sim: Any, kit: Any) -> None:
    """DouyinLiveWebFetcher and douyinLive append the signature unencoded: '+' stays '+'."""
    params = kit.push_params(kit.TEENIE_ROOM_ID)
    while "+" not in params["signature"]:
        params["signature"] = sign_push(params)
    sig = params.pop("signature")
    url = f"{sim.push_url}?{urlencode(params)}&signature={sig}"
    async with websockets.connect(url) as ws:
        assert ws.protocol.state.name == "OPEN"
    assert sim.stats()["handshakes_refused"] == 0


async def test_ping_frames_count_as_keep_alive(sim_factory: Any, kit: Any) -> None:
    """A client that sends its heartbeat bytes inside WebSocket pings (DouyinLiveWebFetcher)
    keeps its socket; a silent one is closed after heartbeat_timeout."""
    async with sim_factory(heartbeat_timeout=0.8) as sim:
        url = f"{sim.push_url}?{urlencode(kit.push_params(kit.TEENIE_ROOM_ID))}"
        async with (
            websockets.connect(url, ping_interval=None, max_size=None) as pinger,
            websockets.connect(url, ping_interval=None, max_size=None) as silent,
        ):

            async def ping() -> None:
                while True:
                    await pinger.ping(HEARTBEAT_FRAME)
                    await asyncio.sleep(0.15)

            task = asyncio.create_task(ping())
            reader = asyncio.create_task(read_methods(pinger, 3.0))
            with contextlib.suppress(websockets.ConnectionClosed):
                async with asyncio.timeout(10):
                    async for _ in silent:
                        pass
            assert silent.close_code == 1001
            got = await reader
            task.cancel()
            assert pinger.close_code is None  # alive well past 3× the timeout
            assert got  # and still fed
        conns = sim.stats()
        assert conns["heartbeat_timeouts"] == 1


async def test_pay_grade_icons_are_grade_icons(sim: Any, kit: Any) -> None:
    """PayGrade field 14 is ``repeated GradeIcon {icon, icon_diamond, level, level_str}``."""
    icons: list[Any] = []
    for _ in range(100):  # until chat from a user with a pay grade went out
        body = (await fetch(sim, kit.TEENIE_ROOM_ID, need_persist_msg_count=200)).content
        for m in parse_response(body).messages:
            if m.method == "WebcastChatMessage":
                user = pb.ChatMessage.FromString(m.payload).user
                icons += [(user.pay_grade.level, i) for i in user.pay_grade.grade_icon_list]
        if icons:
            break
        await asyncio.sleep(0.1)
    assert icons
    for level, icon in icons:
        assert icon.level == level and icon.level_str == str(level)
        assert icon.icon_diamond == level * 1000 and icon.icon.url_list[0].startswith("https://")


async def test_ranking_is_not_empty_when_a_client_joins(sim_factory: Any, kit: Any) -> None:
    async with (
        sim_factory(warm_ranking=True) as sim,
        httpx.AsyncClient(base_url=sim.base_url) as http,
    ):
        r = await http.get("/webcast/ranklist/audience/", params={"room_id": kit.TEENIE_ROOM_ID})
    ranks = r.json()["data"]["ranks"]
    assert len(ranks) >= 5 and all(x["score"] > 0 for x in ranks)


# ---------------------------------------------------------------- logins and hidden gifts


async def test_gifts_need_login(sim_factory: Any, kit: Any) -> None:
    async with sim_factory(defences=Defences(gifts_need_login=True), rate=60.0) as sim:
        async with httpx.AsyncClient(base_url=sim.base_url) as http:
            cookie = (await http.post("/__sim/login", json={"name": "alice"})).json()["cookie"]
        assert "sessionid=" in cookie and "sessionid_ss=" in cookie and "uid_tt=" in cookie
        guest = await handshake(sim, kit, kit.TEENIE_ROOM_ID)
        member = await handshake(sim, kit, kit.TEENIE_ROOM_ID, headers={"Cookie": cookie})
        async with guest, member:
            seen = await asyncio.gather(
                read_methods(guest, 40.0, {FAN_TICKET, "WebcastRoomRankMessage"}),
                read_methods(member, 40.0, {GIFT}),
            )
        as_guest, as_member = seen
        assert GIFT in as_member and GIFT not in as_guest
        assert FAN_TICKET in as_guest  # the visible signal: fan tickets keep growing
        log = sim.log(kit.TEENIE)
        gifts = [e for e in log if e["method"] == GIFT]
        assert gifts and all(e["hidden"] for e in gifts)
        assert not any(e.get("hidden") for e in log if e["method"] != GIFT)
        # im/fetch the same way
        backlog = {"need_persist_msg_count": 500}
        by_guest = parse_response((await fetch(sim, kit.TEENIE_ROOM_ID, **backlog)).content)
        by_member = parse_response(
            (await fetch(sim, kit.TEENIE_ROOM_ID, cookie, **backlog)).content
        )
        assert GIFT not in {m.method for m in by_guest.messages}
        assert GIFT in {m.method for m in by_member.messages}


async def test_expired_session_is_a_guest_again(sim_factory: Any, kit: Any) -> None:
    defences = Defences(gifts_need_login=True, session_ttl=60.0)
    async with sim_factory(defences=defences) as sim:
        now = [1000.0]
        sim.sim.guard.clock = lambda: now[0]  # the session clock, moved by hand
        cookie = sim.login("bob")
        page = f"{sim.base_url}/{kit.TEENIE}"
        jar = {"Cookie": cookie + "; __ac_nonce=0123456789abcdef01234"}
        async with httpx.AsyncClient(headers=jar) as http:
            assert 'user_is_login\\":1' in (await http.get(page)).text
            now[0] += 59.0
            assert 'user_is_login\\":1' in (await http.get(page)).text
            now[0] += 2.0  # past --session-ttl
            assert 'user_is_login\\":0' in (await http.get(page)).text
        body = await fetch(sim, kit.TEENIE_ROOM_ID, cookie, need_persist_msg_count=500)
        assert GIFT not in {m.method for m in parse_response(body.content).messages}


# ---------------------------------------------------------------- risk control


async def test_too_many_rooms_flags_the_identity(sim_factory: Any, kit: Any) -> None:
    defences = Defences(risk_rooms=2, risk_cooldown=30.0)
    async with sim_factory(defences=defences) as sim:
        cookie = sim.login()
        other = sim.login()
        rooms = [sim.room_id(r["web_rid"]) for r in sim.rooms() if r["live"]]
        first = await handshake(sim, kit, rooms[0], headers={"Cookie": cookie})
        assert not refused(first)
        assert (await fetch(sim, rooms[1], cookie)).content
        assert (await fetch(sim, rooms[2], cookie)).content == b""  # one room too many
        async with first:
            await read_methods(first, 1.0)  # what was sent before the flag
            methods = await read_methods(first, 20.0, {"WebcastRoomStatsMessage"})
        assert methods and set(methods) <= {"WebcastRoomUserSeqMessage", "WebcastRoomStatsMessage"}
        assert refused(await handshake(sim, kit, rooms[0], headers={"Cookie": cookie}))
        assert (await fetch(sim, rooms[0], cookie)).content == b""
        assert sim.stats()["flagged"] == 1
        # another identity is not affected
        ok = await handshake(sim, kit, rooms[0], headers={"Cookie": other})
        assert not refused(ok)
        await ok.close()


async def test_request_bursts_and_cooldown(sim_factory: Any, kit: Any) -> None:
    defences = Defences(risk_requests=3, risk_cooldown=0.5)
    async with sim_factory(defences=defences) as sim:
        cookie = sim.login()
        async with httpx.AsyncClient(base_url=sim.base_url, headers={"Cookie": cookie}) as http:
            for _ in range(4):
                await http.get("/webcast/room/web/enter/", params={"web_rid": kit.TEENIE})
        assert (await fetch(sim, kit.TEENIE_ROOM_ID, cookie)).content == b""
        assert await reached(lambda: sim.stats()["flagged"] == 0, 5.0)
        assert (await fetch(sim, kit.TEENIE_ROOM_ID, cookie)).content  # cooled down


async def test_one_cookie_from_two_exits_is_flagged_at_once(sim_factory: Any, kit: Any) -> None:
    async with sim_factory(defences=Defences(risk_exits=True)) as sim:
        cookie = sim.login()
        params = {"room_id": kit.TEENIE_ROOM_ID}
        for exit_ip in ("127.0.0.1", "127.0.0.2"):
            transport = httpx.AsyncHTTPTransport(local_address=exit_ip)
            async with httpx.AsyncClient(transport=transport, headers={"Cookie": cookie}) as http:
                r = await http.get(f"{sim.base_url}/webcast/im/fetch/", params=params)
        assert r.content == b"" and sim.stats()["flagged"] == 1


# ---------------------------------------------------------------- request checks


async def test_sdk_version_is_checked(sim_factory: Any, kit: Any) -> None:
    async with sim_factory(defences=Defences(sdk_version="1.0.15")) as sim:
        rid = kit.TEENIE_ROOM_ID
        assert refused(await handshake(sim, kit, rid))  # 1.0.14-beta.0
        ok = await handshake(
            sim, kit, rid, webcast_sdk_version="1.0.15", update_version_code="1.0.15"
        )
        assert not refused(ok)
        await ok.close()


async def test_origin_and_referer_can_be_required(sim_factory: Any, kit: Any) -> None:
    async with sim_factory(defences=Defences(require_origin=True)) as sim:
        rid = kit.TEENIE_ROOM_ID
        assert refused(await handshake(sim, kit, rid))
        headers = {"Origin": "https://live.douyin.com", "Referer": "https://live.douyin.com/1"}
        ok = await handshake(sim, kit, rid, headers=headers)
        assert not refused(ok)
        await ok.close()


async def test_push_servers_are_handed_out_as_a_v2_list(sim_factory: Any, kit: Any) -> None:
    servers = ("https://webcast5-ws-web-lf.douyin.com/webcast/im/push/v2/", "self")
    async with sim_factory(defences=Defences(push_servers=servers)) as sim:
        resp = pb.Response.FromString((await fetch(sim, kit.TEENIE_ROOM_ID)).content)
    assert resp.push_server == ""
    first, second = resp.push_server_v2.split(",")
    assert first == servers[0] and second == f"ws://127.0.0.1:{sim.port}/webcast/im/push/v2/"


async def test_repeated_guest_polls_get_empty_answers(sim_factory: Any, kit: Any) -> None:
    async with sim_factory(defences=Defences(guest_poll_limit=3)) as sim:
        ttwid = "ttwid=1%7Cguest"
        sizes = [len((await fetch(sim, kit.TEENIE_ROOM_ID, ttwid)).content) for _ in range(5)]
        assert all(sizes[:3]) and sizes[3:] == [0, 0]
        member = sim.login()
        assert all([len((await fetch(sim, kit.TEENIE_ROOM_ID, member)).content) for _ in range(5)])


@pytest.mark.parametrize("mode", ["cookieless", "always"])
async def test_verification_page(sim_factory: Any, kit: Any, mode: str) -> None:
    async with sim_factory(defences=Defences(verification=mode)) as sim:
        nonce = "__ac_nonce=0123456789abcdef01234"
        async with httpx.AsyncClient(base_url=sim.base_url) as http:
            bare = await http.get(f"/{kit.TEENIE}", headers={"Cookie": nonce})
            with_ttwid = await http.get(f"/{kit.TEENIE}", headers={"Cookie": nonce + "; ttwid=x"})
            enter = await http.get("/webcast/room/web/enter/", params={"web_rid": kit.TEENIE})
    assert bare.status_code == 200 and "验证码中间页" in bare.text and "roomId" not in bare.text
    assert "验证码中间页" in enter.text
    assert ("roomId" in with_ttwid.text) == (mode == "cookieless")


def test_cli_flags_build_the_defences() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "sim", "--gifts-need-login", "--session-ttl", "60", "--risk-rooms", "12",
            "--risk-exits", "--sdk-version", "1.0.15", "--require-origin",
            "--push-servers", "https://a.example,self", "--guest-poll-limit", "5",
            "--verification", "cookieless", "--cold-ranking",
        ]
    )  # fmt: skip
    cfg = config_from_args(args)
    d = cfg.defences
    assert (d.gifts_need_login, d.session_ttl, d.risk_rooms, d.risk_exits) == (True, 60, 12, True)
    assert (d.sdk_version, d.require_origin, d.guest_poll_limit) == ("1.0.15", True, 5)
    assert d.push_servers == ("https://a.example", "self") and d.verification == "cookieless"
    assert cfg.warm_ranking is False
    assert re.match(r"\d", str(d.risk_window))


async def test_douyinlivewebfetcher_style_client(sim_factory: Any, kit: Any) -> None:
    """The peer client's behaviour, end to end: ttwid from GET /, the room page with a fixed
    ``__ac_nonce``, the push URL with its signature appended raw, heartbeats only as WebSocket
    pings every few tenths of a second, acks (GradeIcon decoding: see the PayGrade test)."""
    async with sim_factory(heartbeat_timeout=0.8) as sim:
        async with httpx.AsyncClient(base_url=sim.base_url) as http:
            ttwid = (await http.get("/")).cookies["ttwid"]
            cookie = f"ttwid={ttwid}; __ac_nonce=0123407cc00a9e438deb4"
            page = await http.get(f"/{kit.TEENIE}", headers={"Cookie": cookie})
        room_id = re.search(r'roomId\\":\\"(\d+)\\"', page.text).group(1)  # type: ignore[union-attr]
        params = kit.push_params(int(room_id))
        while "+" not in params["signature"]:
            params["signature"] = sign_push(params)
        sig = params.pop("signature")
        url = f"{sim.push_url}?{urlencode(params)}&signature={sig}"
        session, methods = PushSession(), []
        async with websockets.connect(
            url, additional_headers={"Cookie": f"ttwid={ttwid}"}, ping_interval=None
        ) as ws:

            async def pings() -> None:
                while True:
                    await ws.ping(HEARTBEAT_FRAME)
                    await asyncio.sleep(0.2)

            task = asyncio.create_task(pings())
            loop = asyncio.get_running_loop()
            end = loop.time() + 3.0
            with contextlib.suppress(TimeoutError):
                while loop.time() < end:
                    async with asyncio.timeout(end - loop.time()):
                        data = await ws.recv()
                    methods += [m.method for m in session.receive_frame(data)]
                    for out in session.data_to_send():  # acks, as binary frames
                        await ws.send(out)
            task.cancel()
            assert ws.close_code is None  # still open after almost 4× the heartbeat timeout
        assert len(methods) > 20 and "WebcastChatMessage" in methods
        assert sim.stats()["handshakes_refused"] == 0 and sim.stats()["heartbeat_timeouts"] == 0
        assert sim.stats()["acks_received"] > 0
