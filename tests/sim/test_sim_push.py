"""The push socket against a spec-only client: decoding, refusals, heartbeats, resume, live end."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import pytest
import websockets

from dylive.sim.builders import PAYLOAD_TYPES
from dylive.wire.frames import parse_frame

GIFT = "WebcastGiftMessage"


async def test_spec_client_decodes_everything(sim: Any, kit: Any) -> None:
    client = kit.SpecClient(sim, kit.TEENIE_ROOM_ID)
    got = await client.run(10.0, until=lambda g: len(g.messages) >= 150)
    assert not got.errors
    assert len(got.messages) >= 150
    methods = set()
    for raw in got.messages:
        payload = PAYLOAD_TYPES[raw.method].FromString(raw.payload)
        common = payload.common
        assert common.method == raw.method
        assert common.msg_id == raw.msg_id
        assert common.create_time > 1_600_000_000_000
        assert common.room_id == (
            0 if raw.method == "WebcastRoomIntroMessage" else kit.TEENIE_ROOM_ID
        )
        user = getattr(payload, "user", None)
        if user is not None and payload.HasField("user"):
            assert user.sec_uid.startswith("MS4wLjABAAAA")
            assert user.id and user.nickname and user.display_id
            assert user.avatar_thumb.url_list
        if raw.method == GIFT:
            assert payload.gift.id == payload.gift_id and payload.gift.name
            assert payload.gift.diamond_count >= 1
            n = payload.repeat_count * payload.group_count
            assert common.describe == f"{payload.user.nickname}:送给主播 {n}个{payload.gift.name}"
        methods.add(raw.method)
    expected = {"WebcastChatMessage", "WebcastMemberMessage", "WebcastLikeMessage", GIFT}
    assert expected <= methods
    # what the client got is exactly a contiguous slice of the ground-truth log
    assert got.ids == kit.log_slice(sim, kit.TEENIE, got.ids)
    # acks were received and counted
    await asyncio.sleep(0.1)
    msg_frames = got.frames - client.session.heartbeats_received
    assert sim.stats()["acks_received"] >= msg_frames - 1


@pytest.mark.parametrize("signature", ["", "AAAAAAAAAAAAAAAA", "short"])
async def test_bad_or_missing_signature_is_refused_like_douyin(
    sim: Any, kit: Any, signature: str
) -> None:
    params = kit.push_params(kit.TEENIE_ROOM_ID)
    if signature:
        params["signature"] = signature
    else:
        del params["signature"]
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(f"{sim.push_url}?{urlencode(params)}"):
            pass
    response = info.value.response
    assert response.status_code == 200
    assert response.headers["handshake-status"] == "415"
    assert response.headers["handshake-msg"] == "DEVICE_BLOCKED"
    assert response.headers["server"] == "volc-dcdn"
    assert response.body == b""
    assert sim.stats()["handshakes_refused"] == 1


async def test_signature_for_another_room_is_refused(sim: Any, kit: Any) -> None:
    params = kit.push_params(kit.TEENIE_ROOM_ID)
    params["room_id"] = str(sim.room_id("80017709309"))  # signed stub no longer matches
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(f"{sim.push_url}?{urlencode(params)}"):
            pass


async def test_silent_client_is_closed_after_heartbeat_timeout(sim_factory: Any, kit: Any) -> None:
    async with sim_factory(heartbeat_timeout=0.6) as sim:
        silent = kit.SpecClient(sim, kit.TEENIE_ROOM_ID, heartbeat=None)
        beating = kit.SpecClient(sim, kit.TEENIE_ROOM_ID, heartbeat=0.15)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        results = await asyncio.gather(silent.run(5.0), beating.run(1.2))
        silent_got, beating_got = results
        assert silent_got.close_code == 1001
        assert 0.5 < loop.time() - t0  # closed by the timeout, not at once
        assert beating_got.close_code is None or beating_got.close_code == 1000
        assert sim.stats()["heartbeat_timeouts"] == 1
        # the beating client got an "hb" answer for its heartbeats
        assert beating.session.heartbeats_received >= 5


async def test_client_that_does_not_pong_is_dropped(sim_factory: Any, kit: Any) -> None:
    async with sim_factory(ping_interval=0.2, ping_timeout=0.3, heartbeat_timeout=30.0) as sim:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        query = urlencode(kit.push_params(kit.TEENIE_ROOM_ID))
        writer.write(
            (
                f"GET /webcast/im/push/v2/?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        status = await reader.readline()
        assert b"101" in status
        t0 = asyncio.get_running_loop().time()
        async with asyncio.timeout(5.0):
            while await reader.read(65536):  # never answer the pings
                pass
        assert asyncio.get_running_loop().time() - t0 < 3.0
        writer.close()


async def test_ack_driven_resume_has_no_gap_and_no_repeat(sim: Any, kit: Any) -> None:
    first = kit.SpecClient(sim, kit.TEENIE_ROOM_ID)
    await first.run(5.0, until=lambda g: len(g.messages) >= 40)
    ext, cursor = first.session.internal_ext, first.session.cursor
    assert "internal_src:pushserver" in ext and cursor.endswith("_1_1")
    await asyncio.sleep(0.5)  # messages keep coming while nobody listens
    second = kit.SpecClient(sim, kit.TEENIE_ROOM_ID)
    await second.run(5.0, internal_ext=ext, cursor=cursor, until=lambda g: len(g.messages) >= 40)
    ids = first.got.ids + second.got.ids
    assert len(ids) == len(set(ids))
    assert ids == kit.log_slice(sim, kit.TEENIE, ids)
    # the messages emitted while disconnected came first on the new socket
    assert len(second.got.messages) >= 10


async def test_cursor_only_resume(sim: Any, kit: Any) -> None:
    first = kit.SpecClient(sim, kit.TEENIE_ROOM_ID)
    await first.run(5.0, until=lambda g: len(g.messages) >= 20)
    await asyncio.sleep(0.3)
    second = kit.SpecClient(sim, kit.TEENIE_ROOM_ID)
    await second.run(5.0, cursor=first.session.cursor, until=lambda g: len(g.messages) >= 20)
    ids = first.got.ids + second.got.ids
    assert ids == kit.log_slice(sim, kit.TEENIE, ids)


async def test_no_position_starts_now(sim: Any, kit: Any) -> None:
    await asyncio.sleep(0.3)
    before = len(sim.log(kit.TEENIE))
    client = kit.SpecClient(sim, kit.TEENIE_ROOM_ID)
    default_ext = f"internal_src:dim|wss_push_room_id:{kit.TEENIE_ROOM_ID}|seq:1"
    got = await client.run(5.0, internal_ext=default_ext, until=lambda g: len(g.messages) >= 5)
    seqs = {e["msg_id"]: e["seq"] for e in sim.log(kit.TEENIE)}
    assert min(seqs[i] for i in got.ids) > before - 20  # not the whole history


async def test_live_end_sends_control_then_close_frame(sim: Any, kit: Any) -> None:
    client = kit.SpecClient(sim, kit.TEENIE_ROOM_ID)

    async def end_soon() -> None:
        await asyncio.sleep(0.4)
        sim.end(kit.TEENIE)

    ender = asyncio.create_task(end_soon())
    got = await client.run(5.0)
    await ender
    assert got.messages[-1].method == "WebcastControlMessage"
    from dylive.proto import webcast_pb2 as pb

    assert pb.ControlMessage.FromString(got.messages[-1].payload).action == 3
    assert got.closed_by_server
    assert got.close_code == 1000
    assert sim.room(kit.TEENIE)["status"] == 4
    assert got.ids == kit.log_slice(sim, kit.TEENIE, got.ids)


async def test_unknown_room_id_gets_heartbeats_only(sim: Any, kit: Any) -> None:
    client = kit.SpecClient(sim, 7000000000000000001)
    got = await client.run(0.8)
    assert got.messages == []
    assert client.session.heartbeats_received >= 1


async def test_frames_are_douyin_shaped(sim: Any, kit: Any) -> None:
    params = kit.push_params(kit.TEENIE_ROOM_ID)
    async with websockets.connect(f"{sim.push_url}?{urlencode(params)}") as ws:
        frame = parse_frame(await asyncio.wait_for(ws.recv(), 5))
    assert frame.payload_type == "msg"
    assert (frame.service, frame.method) == (8888, 8)
    assert frame.headers["compress_type"] == "gzip"
    assert frame.headers["im-cursor"].endswith("_1_1")
    assert frame.headers["im-internal_ext"].startswith("internal_src:pushserver|")
    assert f"wss_push_did:{kit.UID}" in frame.headers["im-internal_ext"]
    assert frame.headers["im-now"].isdigit()
    assert frame.log_id and frame.seq_id == 1
