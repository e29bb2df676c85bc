"""Every fault mode, observed from the client side."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import websockets

from dylive.errors import FrameError, ResponseError
from dylive.sim.builders import STATS_METHODS
from dylive.sim.catalog import UNKNOWN_METHODS
from dylive.sim.positions import ext_position


async def test_corrupt_frames_fail_to_parse_both_ways(sim: Any, kit: Any) -> None:
    sim.set_faults(kit.TEENIE, corrupt=1.0)
    client = kit.SpecClient(sim, kit.TEENIE_ROOM_ID)
    got = await client.run(5.0, until=lambda g: len(g.errors) >= 4)
    assert got.messages == []
    kinds = {type(e) for e in got.errors}
    assert FrameError in kinds  # broken gzip stream
    assert ResponseError in kinds  # gzip of a truncated protobuf Response
    assert sim.stats()["corrupt_frames"] >= 4


async def test_unknown_methods_are_real_logged_messages(sim: Any, kit: Any) -> None:
    sim.set_faults(kit.TEENIE, unknown_methods=0.5)
    client = kit.SpecClient(sim, kit.TEENIE_ROOM_ID)
    got = await client.run(5.0, until=lambda g: len(g.messages) >= 60)
    unknown = [m for m in got.messages if m.method in UNKNOWN_METHODS]
    assert len(unknown) >= 10
    logged = {e["msg_id"]: e["method"] for e in sim.log(kit.TEENIE)}
    assert all(logged[m.msg_id] == m.method for m in unknown)
    assert got.ids == kit.log_slice(sim, kit.TEENIE, got.ids)


async def test_duplicates_resend_ids_that_are_logged_once(sim: Any, kit: Any) -> None:
    sim.set_faults(kit.TEENIE, duplicates=1.0)
    client = kit.SpecClient(sim, kit.TEENIE_ROOM_ID)
    got = await client.run(5.0, until=lambda g: len(g.messages) >= 40)
    ids = got.ids
    assert len(ids) > len(set(ids))
    log_ids = [e["msg_id"] for e in sim.log(kit.TEENIE)]
    assert len(log_ids) == len(set(log_ids))
    unique = list(dict.fromkeys(ids))
    assert set(unique) <= set(log_ids)


async def test_out_of_order_delivery(sim: Any, kit: Any) -> None:
    sim.set_faults(kit.TEENIE, out_of_order=1.0)
    client = kit.SpecClient(sim, kit.TEENIE_ROOM_ID)

    def seqs_of(got: Any) -> list[int]:
        seq = {e["msg_id"]: e["seq"] for e in sim.log(kit.TEENIE)}
        return [seq[i] for i in got.ids]

    def settled(got: Any) -> bool:
        # a held single-message frame is sent after the next one: stop only once it has come
        seqs = seqs_of(got)
        return len(seqs) >= 40 and max(seqs) - min(seqs) + 1 == len(set(seqs))

    got = await client.run(10.0, until=settled)
    seqs = seqs_of(got)
    assert seqs != sorted(seqs)
    assert sorted(seqs) == list(range(min(seqs), max(seqs) + 1))  # reordered, nothing lost


async def test_fake_alive_withholds_business_messages_but_keeps_them(sim: Any, kit: Any) -> None:
    first = kit.SpecClient(sim, kit.TEENIE_ROOM_ID)
    await first.run(5.0, until=lambda g: len(g.messages) >= 5)
    cursor, ext = first.session.cursor, first.session.internal_ext
    sim.set_faults(kit.TEENIE, fake_alive=True)
    stale = kit.SpecClient(sim, kit.TEENIE_ROOM_ID)
    got = await stale.run(1.0, cursor=cursor, internal_ext=ext)
    assert got.close_code is None  # the socket stayed open
    assert {m.method for m in got.messages} <= STATS_METHODS
    assert stale.session.heartbeats_received >= 2  # heartbeats still answered
    if stale.session.internal_ext:  # stats frames came: the position did not move
        assert ext_position(stale.session.internal_ext) == ext_position(ext)
    sim.set_faults(kit.TEENIE, fake_alive=False)
    resumed = kit.SpecClient(sim, kit.TEENIE_ROOM_ID)
    back = await resumed.run(
        5.0, cursor=cursor, internal_ext=ext, until=lambda g: len(g.messages) >= 40
    )
    business = [m for m in back.messages if m.method not in STATS_METHODS]
    assert len(business) >= 20
    ids = first.got.ids + back.ids
    assert ids == kit.log_slice(sim, kit.TEENIE, ids)  # nothing withheld was lost


async def test_refuse_handshake_even_with_valid_signature(sim: Any, kit: Any) -> None:
    sim.set_faults(kit.TEENIE, refuse_handshake=True)
    params = kit.push_params(kit.TEENIE_ROOM_ID)
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(f"{sim.push_url}?{urlencode(params)}"):
            pass
    assert info.value.response.headers["handshake-msg"] == "DEVICE_BLOCKED"


async def test_drop_every_closes_the_socket(sim: Any, kit: Any) -> None:
    sim.set_faults(kit.TEENIE, drop_every=0.4)
    client = kit.SpecClient(sim, kit.TEENIE_ROOM_ID)
    t0 = time.monotonic()
    got = await client.run(5.0)
    assert got.close_code == 1001
    assert 0.3 < time.monotonic() - t0 < 3.0
    assert sim.stats()["drops"] == 1


async def test_http_faults(sim: Any, kit: Any) -> None:
    enter = {"web_rid": kit.TEENIE}
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        sim.set_faults(kit.TEENIE, http_5xx=1.0)
        r = await http.get("/webcast/room/web/enter/", params=enter)
        assert r.status_code == 502
        r = await http.get("/webcast/im/fetch/", params={"room_id": kit.TEENIE_ROOM_ID})
        assert r.status_code == 502
        sim.set_faults(kit.TEENIE, reset=True, http_empty=1.0)
        r = await http.get("/webcast/ranklist/audience/", params={"room_id": kit.TEENIE_ROOM_ID})
        assert (r.status_code, r.content) == (200, b"")
        sim.set_faults(kit.TEENIE, reset=True, slow_ms=300)
        t0 = time.monotonic()
        r = await http.get("/webcast/room/web/enter/", params=enter)
        assert r.status_code == 200 and r.json()["status_code"] == 0
        assert time.monotonic() - t0 >= 0.3
        # other rooms are unaffected
        t0 = time.monotonic()
        r = await http.get("/webcast/room/web/enter/", params={"web_rid": "80017709309"})
        assert r.status_code == 200 and time.monotonic() - t0 < 0.3


async def test_faults_via_control_plane_and_cli_defaults(sim_factory: Any, kit: Any) -> None:
    async with sim_factory(faults={"corrupt": 0.25}) as sim:
        assert all(r["faults"]["corrupt"] == 0.25 for r in sim.rooms())
        async with httpx.AsyncClient(base_url=sim.base_url) as http:
            url = f"/__sim/rooms/{kit.TEENIE}/faults"
            r = await http.post(url, json={"duplicates": 0.5})
            assert r.json()["duplicates"] == 0.5 and r.json()["corrupt"] == 0.25
            r = await http.post(url, json={})
            assert r.json()["duplicates"] == 0.5  # {} resets nothing
            r = await http.post(url, json={"reset": True})
            assert r.json()["corrupt"] == 0.0
            r = await http.post(url, json={"corrupt": 2})
            assert r.status_code == 400 and r.json()["error"] == "bad_request"
            r = await http.post(url, json={"nope": 1})
            assert r.status_code == 400
            r = await http.post("/__sim/rooms/999/faults", json={})
            assert r.status_code == 404 and r.json()["error"] == "room_not_found"


async def test_heartbeat_answers_flow_during_fake_alive(sim: Any, kit: Any) -> None:
    sim.set_faults(kit.TEENIE, fake_alive=True)
    client = kit.SpecClient(sim, kit.TEENIE_ROOM_ID, heartbeat=0.1)
    await client.run(0.7)
    await asyncio.sleep(0)
    assert client.session.heartbeats_received >= 4
