"""The Douyin of 2026 (``dylive sim --era 2026``): each behaviour on its own, against clients
written from the protocol facts only (httpx, websockets, the frame codec, the push signer)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import re
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import websockets

from dylive.proto import webcast_pb2 as pb
from dylive.sim.cli import config_from_args, register
from dylive.sim.defences import Defences
from dylive.sim.era import MASKED_ID, Era, webcast_uid
from dylive.wire.frames import HEARTBEAT_FRAME, RawMessage, parse_response
from dylive.wire.session import PushSession
from dylive.wire.signing import sign_push

GIFT = "WebcastGiftMessage"
CHAT = "WebcastChatMessage"
STATS = {"WebcastRoomStatsMessage", "WebcastRoomUserSeqMessage"}
REAL_UID = 98765432101234
CURSOR_2026 = re.compile(r"^t-\d{13}_r-(\d+)_d-1_u-1_h-(\d+)_rdc-2$")


async def until(pred: Any, limit: float = 15.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while loop.time() < end:
        if pred():
            return True
        await asyncio.sleep(0.02)
    return bool(pred())


async def fetch(sim: Any, room_id: int | str, cookie: str = "", **params: Any) -> httpx.Response:
    headers = {"Cookie": cookie} if cookie else {}
    async with httpx.AsyncClient(base_url=sim.base_url, headers=headers) as http:
        return await http.get("/webcast/im/fetch/", params={"room_id": room_id, **params})


async def backlog(sim: Any, room_id: int, cookie: str = "") -> list[RawMessage]:
    body = await fetch(sim, room_id, cookie, need_persist_msg_count=500)
    return list(parse_response(body.content).messages)


async def connect(sim: Any, kit: Any, room_id: int, cookie: str = "", **extra: str) -> Any:
    """An open push socket (registered in the room before returning), or the refusal."""
    params = kit.push_params(room_id)
    params.update(extra)
    if extra and "signature" not in extra:
        params["signature"] = sign_push(params)
    headers = {"Cookie": cookie} if cookie else {}
    web_rid = sim.sim.registry.by_id(room_id).web_rid
    before = len(sim.connections(web_rid))
    try:
        ws = await websockets.connect(
            f"{sim.push_url}?{urlencode(params)}", additional_headers=headers, max_size=None
        )
    except websockets.InvalidStatus as exc:
        return exc.response
    assert await until(lambda: len(sim.connections(web_rid)) > before)
    return ws


async def read(ws: Any, stop: Any, seconds: float = 20.0) -> tuple[list[RawMessage], list[Any]]:
    """Messages and raw PushFrames until ``stop(messages)`` holds (heartbeating, acking)."""
    session = PushSession()
    got: list[RawMessage] = []
    frames: list[Any] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    with contextlib.suppress(TimeoutError, websockets.ConnectionClosed):
        while loop.time() < end and not stop(got):
            async with asyncio.timeout(max(0.01, end - loop.time())):
                data = await ws.recv()
            frame = pb.PushFrame()
            frame.ParseFromString(data)
            frames.append(frame)
            got += session.receive_frame(data)
            await ws.send(HEARTBEAT_FRAME)
            for out in session.data_to_send():
                await ws.send(out)
    return got, frames


def chat_of(messages: list[RawMessage], content: str) -> pb.ChatMessage | None:
    for m in messages:
        if m.method == CHAT:
            chat = pb.ChatMessage()
            chat.ParseFromString(m.payload)
            if chat.content == content:
                return chat
    return None


def gifts_of(messages: list[RawMessage]) -> list[tuple[int, pb.GiftMessage]]:
    out = []
    for m in messages:
        if m.method == GIFT:
            g = pb.GiftMessage()
            g.ParseFromString(m.payload)
            out.append((m.msg_id, g))
    return out


def inject_chat(sim: Any, web_rid: str, content: str, uid: int = REAL_UID) -> dict[str, Any]:
    user = {"id": uid, "nickname": "小明同学", "sec_uid": "MS4wLjABAAAAreal", "display_id": "xm1"}
    entry: dict[str, Any] = sim.inject(web_rid, CHAT, content=content, user=user)[0]
    return entry


# ---------------------------------------------------------------- masked users


async def test_guests_see_masked_users_the_log_knows_who(sim_factory: Any, kit: Any) -> None:
    async with sim_factory(era=Era(mask_guests=True)) as sim:
        cookie = sim.login("alice")
        guest = await connect(sim, kit, kit.TEENIE_ROOM_ID, "ttwid=1%7Cabc")
        member = await connect(sim, kit, kit.TEENIE_ROOM_ID, cookie)
        entry = inject_chat(sim, kit.TEENIE, "我是谁")
        async with guest, member:
            (as_guest, _), (as_member, _) = await asyncio.gather(
                read(guest, lambda got: chat_of(got, "我是谁") is not None),
                read(member, lambda got: chat_of(got, "我是谁") is not None),
            )
        token = webcast_uid(kit.TEENIE, REAL_UID)
        masked, real = chat_of(as_guest, "我是谁"), chat_of(as_member, "我是谁")
        assert masked is not None and real is not None
        assert (masked.user.id, masked.user.short_id) == (MASKED_ID, MASKED_ID)
        assert masked.user.nickname == "小***" and masked.user.sec_uid == ""
        assert masked.user.display_id == "" and "小明同学" not in masked.common.describe
        assert masked.user.webcast_uid == token and masked.user.id_str == token
        assert (real.user.id, real.user.nickname) == (REAL_UID, "小明同学")
        assert real.user.sec_uid == "MS4wLjABAAAAreal"
        # every other viewer is masked for the guest too, the anchor is not
        kinds: dict[str, Any] = {
            CHAT: pb.ChatMessage,
            "WebcastMemberMessage": pb.MemberMessage,
            "WebcastLikeMessage": pb.LikeMessage,
        }
        users = []
        for m in as_guest:
            if m.method in kinds:
                msg = kinds[m.method]()
                msg.ParseFromString(m.payload)
                users.append(msg.user)
        assert users and all(u.id == MASKED_ID and u.webcast_uid for u in users)
        # ground truth: the real uid and the webcast_uid it was sent with
        logged = next(e for e in sim.log(kit.TEENIE) if e["msg_id"] == entry["msg_id"])
        assert (logged["uid"], logged["webcast_uid"]) == (REAL_UID, token)
        # im/fetch: the same per identity
        fetched = chat_of(await backlog(sim, kit.TEENIE_ROOM_ID), "我是谁")
        assert fetched is not None and fetched.user.webcast_uid == token
        assert fetched.user.id == MASKED_ID
        mine = chat_of(await backlog(sim, kit.TEENIE_ROOM_ID, cookie), "我是谁")
        assert mine is not None and mine.user.id == REAL_UID
        # the same user in another room has another webcast_uid (it is per room)
        other = next(r for r in sim.rooms() if r["live"] and r["web_rid"] != kit.TEENIE)
        inject_chat(sim, other["web_rid"], "换个房间")
        there = chat_of(await backlog(sim, other["room_id"]), "换个房间")
        assert there is not None and there.user.id == MASKED_ID
        assert there.user.webcast_uid == webcast_uid(other["web_rid"], REAL_UID) != token


async def test_default_simulator_does_not_mask(sim: Any, kit: Any) -> None:
    entry = inject_chat(sim, kit.TEENIE, "默认")
    chat = chat_of(await backlog(sim, kit.TEENIE_ROOM_ID), "默认")
    assert chat is not None and chat.user.id == REAL_UID and chat.user.webcast_uid == ""
    logged = next(e for e in sim.log(kit.TEENIE) if e["msg_id"] == entry["msg_id"])
    assert "uid" not in logged and "webcast_uid" not in logged


# ---------------------------------------------------------------- silent sockets


async def test_cookieless_sockets_are_silent(sim_factory: Any, kit: Any) -> None:
    async with sim_factory(era=Era(silent_cookieless=True)) as sim:
        bare = await connect(sim, kit, kit.TEENIE_ROOM_ID)
        guest = await connect(sim, kit, kit.TEENIE_ROOM_ID, "ttwid=1%7Cxyz")
        head = len(sim.log(kit.TEENIE))
        async with bare, guest:
            (quiet, _), (busy, _) = await asyncio.gather(
                read(bare, lambda got: STATS <= {m.method for m in got}, 30.0),
                read(guest, lambda got: CHAT in {m.method for m in got}),
            )
            conns = sim.connections(kit.TEENIE)
        assert CHAT in {m.method for m in busy}
        assert quiet and {m.method for m in quiet} <= STATS
        since = sim.log(kit.TEENIE, head)
        assert any(e["method"] == CHAT for e in since)  # chats happened meanwhile
        assert sorted(c["silenced"] for c in conns) == [False, True]


# ---------------------------------------------------------------- doubled gifts


async def test_each_gift_send_arrives_twice(sim_factory: Any, kit: Any) -> None:
    async with sim_factory(era=Era(double_gifts=True), rate=0.0) as sim:
        before = sim.totals(kit.TEENIE)
        sim.inject(kit.TEENIE, GIFT, gift_id=463, count=3, user={"id": REAL_UID})
        sim.inject(kit.TEENIE, GIFT, gift_id=3242, user={"id": REAL_UID})
        after = sim.totals(kit.TEENIE)
        gifts = [e for e in sim.log(kit.TEENIE) if e["method"] == GIFT]
        fetched = dict(gifts_of(await backlog(sim, kit.TEENIE_ROOM_ID)))
    combo = [fetched[e["msg_id"]] for e in gifts[-6:-2]]
    assert [g.repeat_count for g in combo] == [1, 2, 3, 3]
    assert [g.repeat_end for g in combo] == [0, 0, 0, 1]
    assert len({g.group_id for g in combo}) == 1
    first, second = combo[2], combo[3]
    assert (first.user.id, first.gift_id, first.combo_count, first.group_count) == (
        second.user.id, second.gift_id, second.combo_count, second.group_count,
    )  # fmt: skip
    assert gifts[-3]["msg_id"] != gifts[-4]["msg_id"]
    assert gifts[-3]["copy_of"] == gifts[-4]["msg_id"]
    assert "copy_of" not in gifts[-4] and "copy_of" not in gifts[-5]
    single = [fetched[e["msg_id"]] for e in gifts[-2:]]
    assert [g.repeat_end for g in single] == [0, 1] and single[0].group_id == single[1].group_id
    assert gifts[-1]["copy_of"] == gifts[-2]["msg_id"]
    # the ground truth counts each send once
    assert after["gifts"] - before["gifts"] == 4
    assert after["gift_copies"] - before["gift_copies"] == 2


async def test_default_gifts_come_once(sim_factory: Any, kit: Any) -> None:
    async with sim_factory(rate=0.0) as sim:
        sim.inject(kit.TEENIE, GIFT, gift_id=463, count=2, user={"id": REAL_UID})
        gifts = [e for e in sim.log(kit.TEENIE) if e["method"] == GIFT][-2:]
        fetched = dict(gifts_of(await backlog(sim, kit.TEENIE_ROOM_ID)))
        assert [fetched[e["msg_id"]].repeat_end for e in gifts] == [0, 1]
        assert sim.totals(kit.TEENIE)["gift_copies"] == 0


# ---------------------------------------------------------------- logged-in gift loss


async def test_logged_in_socket_loses_gifts_after_the_first_few(sim_factory: Any, kit: Any) -> None:
    async with sim_factory(era=Era(login_gift_limit=2), rate=0.0) as sim:
        cookie = sim.login()
        member = await connect(sim, kit, kit.TEENIE_ROOM_ID, cookie)
        guest = await connect(sim, kit, kit.TEENIE_ROOM_ID, "ttwid=1%7Cq")
        for _ in range(5):
            sim.inject(kit.TEENIE, GIFT, gift_id=3242, user={"id": REAL_UID})
        inject_chat(sim, kit.TEENIE, "结束")

        def done(got: list[RawMessage]) -> bool:
            return chat_of(got, "结束") is not None

        async with member, guest:
            (as_member, _), (as_guest, _) = await asyncio.gather(
                read(member, done), read(guest, done)
            )
            conns = sorted(sim.connections(kit.TEENIE), key=lambda c: c["logged_in"])
        assert done(as_member) and done(as_guest)
        assert len(gifts_of(as_member)) == 2 and len(gifts_of(as_guest)) == 5
        assert [c["gifts_withheld"] for c in conns] == [0, 3]


# ---------------------------------------------------------------- wire details


async def test_wire_2026_details(sim_factory: Any, kit: Any) -> None:
    async with sim_factory(era=Era(wire_2026=True)) as sim:
        ws = await connect(sim, kit, kit.TEENIE_ROOM_ID, "ttwid=1%7Cw")
        entry = inject_chat(sim, kit.TEENIE, "时间")
        async with ws:
            got, frames = await read(ws, lambda g: chat_of(g, "时间") is not None)
        chat = chat_of(got, "时间")
        assert chat is not None and chat.event_time == entry["created_at"] // 1000
        msg_frames = [f for f in frames if f.payload_type == "msg"]
        headers = dict((h.key, h.value) for h in msg_frames[-1].headers)
        m = CURSOR_2026.match(headers["im-cursor"])
        assert m and headers["im-live_cursor"] == "d-1_u-1"
        inner = parse_response(gzip.decompress(msg_frames[-1].payload))
        assert CURSOR_2026.match(inner.cursor)
        # resume from a 2026 cursor (im/fetch): what follows its r- message, nothing older
        log = sim.log(kit.TEENIE)
        mid = log[len(log) // 2]
        cursor = f"t-{int(time.time() * 1000)}_r-{mid['msg_id']}_d-1_u-1_h-1_rdc-2"
        body = parse_response((await fetch(sim, kit.TEENIE_ROOM_ID, cursor=cursor)).content)
        assert body.messages and body.messages[0].msg_id == log[len(log) // 2 + 1]["msg_id"]
        assert CURSOR_2026.match(body.cursor)
        # __ac_nonce: 0 + hex(unix time) + 12 hex
        async with httpx.AsyncClient(base_url=sim.base_url) as http:
            nonce = (await http.get("/")).cookies["__ac_nonce"]
        assert re.fullmatch(r"0[0-9a-f]{20}", nonce)
        assert abs(int(nonce[1:9], 16) - time.time()) < 300
        # a refusal: keep-alive, no content type, the x-tt-* headers
        bad = await connect(sim, kit, kit.TEENIE_ROOM_ID, signature="x")
        assert bad.headers["handshake-status"] == "415"
        assert bad.headers["connection"].lower() == "keep-alive"
        assert "content-type" not in bad.headers and bad.headers["x-tt-logid"]
        assert bad.headers["x-tt-trace-tag"] and bad.headers["x-tt-trace-id"]
        empty = await fetch(sim, "no-room")
        assert empty.content == b"" and "content-type" not in empty.headers
        assert empty.headers["x-tt-logid"]


async def test_default_wire_is_2021(sim: Any, kit: Any) -> None:
    entry = inject_chat(sim, kit.TEENIE, "旧")
    body = parse_response((await fetch(sim, kit.TEENIE_ROOM_ID)).content)
    assert re.fullmatch(r"\d{13}_\d+_1_1", body.cursor)
    chat = chat_of(list(body.messages), "旧")
    assert chat is not None and chat.event_time == 0 and entry["msg_id"]
    empty = await fetch(sim, "no-room")
    assert empty.headers["content-type"] == "application/json"
    assert "x-tt-logid" not in empty.headers


# ---------------------------------------------------------------- risk on the exit address


async def _guest_run(sim: Any, web_rid: str, room_id: int) -> bytes:
    """A guest run as the report describes it: a fresh ttwid, web/enter, then im/fetch."""
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        await http.get("/")
        await http.get("/webcast/room/web/enter/", params={"web_rid": web_rid})
        return (await http.get("/webcast/im/fetch/", params={"room_id": room_id})).content


async def test_fresh_ttwid_per_room_no_longer_escapes_risk(sim_factory: Any) -> None:
    rooms_of = [(r["web_rid"], r["room_id"]) for r in (await _live_rooms(sim_factory))]
    for by_address, flagged in ((False, 0), (True, 1)):
        defences = Defences(risk_rooms=1, risk_requests=3, risk_by_address=by_address)
        async with sim_factory(defences=defences) as sim:
            answers = [await _guest_run(sim, w, r) for w, r in rooms_of[:3]]
            stats = sim.stats()
        assert stats["flagged"] == flagged
        if by_address:
            assert answers[0] and answers[2] == b""
            assert any("rooms" in f["reason"] for f in stats["flags"])
        else:
            assert all(answers)


async def _live_rooms(sim_factory: Any) -> list[dict[str, Any]]:
    async with sim_factory() as sim:
        return [r for r in sim.rooms() if r["live"]]


# ---------------------------------------------------------------- switches


async def test_era_per_room_at_run_time(sim: Any, kit: Any) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        r = await http.post(f"/__sim/rooms/{kit.TEENIE}/era", json={"era": "2026"})
        assert r.json() == Era.named("2026").as_dict()
        assert sim.room(kit.TEENIE)["era"]["mask_guests"] is True
        others = [x for x in sim.rooms() if x["web_rid"] != kit.TEENIE]
        assert not any(x["era"]["mask_guests"] for x in others)
        inject_chat(sim, kit.TEENIE, "切换")
        chat = chat_of(await backlog(sim, kit.TEENIE_ROOM_ID), "切换")
        assert chat is not None and chat.user.id == MASKED_ID and chat.event_time
        r = await http.post(f"/__sim/rooms/{kit.TEENIE}/era", json={"mask_guests": False})
        assert r.json()["mask_guests"] is False and r.json()["double_gifts"] is True
        chat = chat_of(await backlog(sim, kit.TEENIE_ROOM_ID), "切换")
        assert chat is not None and chat.user.id == REAL_UID
        bad = await http.post(f"/__sim/rooms/{kit.TEENIE}/era", json={"masked": True})
        assert bad.status_code == 400 and bad.json()["error"] == "bad_request"
        bad = await http.post("/__sim/era", json={"login_gift_limit": -1})
        assert bad.status_code == 400
        r = await http.post("/__sim/era", json={"double_gifts": True})
        assert all(x["era"]["double_gifts"] for x in sim.rooms())


def test_cli_era_flags() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    cfg = config_from_args(parser.parse_args(["sim", "--era", "2026"]))
    assert cfg.era == Era.named("2026") and cfg.defences.risk_by_address
    assert cfg.era.login_gift_limit == 0  # opt-in: one report only
    cfg = config_from_args(parser.parse_args(["sim"]))
    assert cfg.era == Era() and not cfg.defences.risk_by_address
    args = ["sim", "--double-gifts", "--login-gift-limit", "3", "--risk-by-address"]
    cfg = config_from_args(parser.parse_args(args))
    assert cfg.era == Era(double_gifts=True, login_gift_limit=3)
    assert cfg.defences.risk_by_address


async def test_resent_duplicates_are_masked_too(sim_factory: Any, kit: Any) -> None:
    def chat_twice(got: list[RawMessage]) -> bool:
        ids = [m.msg_id for m in got if m.method == CHAT]
        return len(ids) > len(set(ids))

    async with sim_factory(era=Era(mask_guests=True), faults={"duplicates": 1.0}) as sim:
        guest = await connect(sim, kit, kit.TEENIE_ROOM_ID, "ttwid=1%7Cd")
        async with guest:
            got, _ = await read(guest, chat_twice, 30.0)
    assert chat_twice(got) and sim.stats()["duplicates_sent"]
    for m in got:
        if m.method == CHAT:
            chat = pb.ChatMessage()
            chat.ParseFromString(m.payload)
            assert chat.user.id == MASKED_ID and chat.user.webcast_uid
