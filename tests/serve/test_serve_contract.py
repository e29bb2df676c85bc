"""Contract tests against the simulator: the vendor's shapes key by key, types included,
msg_id written exactly (beyond 2^53), continuation, audience passthrough and ledger fallback."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.serve.params import DEFAULT_METHODS
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.store.cursor import parse_cursor

CHAT = "/douyin/liveroom/chat"
AUDIENCE = "/douyin/liveroom/audience"

#: The contract's chat example (api-contract.md §1), one message of each shape kept.
CHAT_EXAMPLE: dict[str, Any] = {
    "code": 200,
    "msg": "成功",
    "data": {
        "messages": [
            {
                "method": "WebcastChatMessage",
                "msg_id": 6922636275858098944,
                "payload": {
                    "room_id": 6922580638159719176,
                    "content": "想要长款连衣裙",
                    "user": {
                        "uid": 61152922824,
                        "nickname": "若他",
                        "unique_id": "834508049",
                        "sec_uid": "MS4wLjABAAAAofSXImUFD30Qi7j1fV66kn0U7VinMZwzVkAfQnHZFvg",
                    },
                },
            }
        ],
        "cursor": "1611801897133_6922636435245915553_1_1",
        "fetch_interval": 1000,
        "now": 1611801897133,
        "internal_ext": "fetch_time:1611801897133|start_time:1611801885555|ack_ids:6922636386029931272_107c|flag:1|seq:1|next_cursor:1611801897133_6922636435245915553_1_1|door:6-n3",
        "ignores": ["WebcastRoomMessage"],
    },
}

#: The contract's audience example (api-contract.md §2), as far as the document goes.
AUDIENCE_EXAMPLE: dict[str, Any] = {
    "code": 200,
    "data": {
        "data": {
            "currency": "音浪",
            "has_more": False,
            "has_once_live": True,
            "music_wave": "音浪",
            "ranks": [
                {
                    "delta": 0,
                    "first_gift": False,
                    "gap_description": "99",
                    "rank": 1,
                    "score": 99,
                    "user": {
                        "adversary_authorization_info": 0,
                        "adversary_user_status": 0,
                        "allow_be_located": False,
                        "allow_find_by_contacts": False,
                        "allow_others_download_video": False,
                        "allow_others_download_when_sharing_video": False,
                        "allow_share_show_profile": False,
                        "allow_show_in_gossip": False,
                        "allow_show_my_action": False,
                        "allow_strange_comment": False,
                        "allow_unfollower_comment": False,
                        "allow_use_linkmic": False,
                        "authorization_info": 3,
                        "avatar_thumb": {
                            "avg_color": "",
                            "height": 0,
                            "image_type": 0,
                            "is_animated": False,
                            "open_web_url": "",
                            "uri": "100x100/316e3000c72bee4420e2d",
                            "url_list": [
                                "p3-dy-ipv6.byteimg/aweme/100x100/316e3000c72bee4420e2d.jpeg"
                            ],
                            "width": 0,
                        },
                        "badge_image_list": [],
                        "bg_img_url": "",
                        "birthday": 0,
                        "birthday_description": "",
                        "birthday_valid": False,
                        "block_status": 0,
                        "city": "",
                        "comment_restrict": 0,
                        "commerce_webcast_config_ids": [],
                        "constellation": "",
                        "create_time": 0,
                        "disable_ichat": 0,
                        "display_id": "385190430",
                    },
                }
            ],
        }
    },
}


def same_shape(example: Any, actual: Any, path: str = "$") -> None:
    """Every key of ``example`` is in ``actual`` with the same JSON type (recursively)."""
    if isinstance(example, bool) or isinstance(actual, bool):
        assert isinstance(actual, bool) and isinstance(example, bool), path
    elif isinstance(example, int):
        assert isinstance(actual, int), f"{path}: {actual!r} is not an integer"
    else:
        assert type(actual) is type(example), f"{path}: {type(actual)} != {type(example)}"
    if isinstance(example, dict):
        for key, value in example.items():
            assert key in actual, f"{path}.{key} missing"
            same_shape(value, actual[key], f"{path}.{key}")
    elif isinstance(example, list) and example and actual:
        for item in actual:
            same_shape(example[0], item, f"{path}[]")


@pytest.fixture
async def live(
    tmp_path: Path, serve_api: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Any, Any, str]]:
    async with SimServer(SimConfig(seed=5, rate=40.0, tick=0.05)) as sim:
        config = ServiceConfig(db=str(tmp_path / "c.sqlite3"), upstream=sim.base_url, signing="v2")
        async with (
            serve_api(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            token = await tokens.create(svc.store, "contract")
            yield client, svc, sim, token


async def poll_until(client: httpx.AsyncClient, params: dict[str, Any], n: int) -> list[bytes]:
    """Raw bodies of successive cursor-continued polls until ``n`` messages arrived."""
    bodies: list[bytes] = []
    got = 0
    for _ in range(200):
        resp = await client.get(CHAT, params={**params, "wait": 2})
        assert resp.status_code == 200, resp.text
        bodies.append(resp.content)
        data = orjson.loads(resp.content)["data"]
        got += len(data["messages"])
        params = {**params, "cursor": data["cursor"]}
        if got >= n:
            break
    return bodies


async def test_chat_matches_contract_shape_and_exact_ids(live: Any) -> None:
    client, _, sim, token = live
    bodies = await poll_until(client, {"token": token, "room_id": DEFAULT_WEB_RID}, 40)
    messages: list[dict[str, Any]] = []
    for raw in bodies:
        body = orjson.loads(raw)
        same_shape(CHAT_EXAMPLE, body)
        data = body["data"]
        assert list(data)[:6] == [
            "messages",
            "cursor",
            "fetch_interval",
            "now",
            "internal_ext",
            "ignores",
        ]
        # additive: the gift-visibility verdict of a room being collected (source/coverage)
        assert list(data)[6:] in ([], ["coverage"])
        if "coverage" in data:
            assert data["coverage"]["gifts"] in ("unknown", "visible", "hidden")
        assert re.fullmatch(r"\d{13}_\d+_\d+_1", data["cursor"])
        assert data["internal_ext"].startswith(f"fetch_time:{data['now']}|start_time:")
        assert f"|next_cursor:{data['cursor']}|" in data["internal_ext"]
        text = raw.decode()
        for m in data["messages"]:
            # exact digits in the body text (a float would print 6.92e18 or lose digits)
            assert f'"msg_id":{m["msg_id"]},' in text
            assert f'"uid":{m["payload"]["user"]["uid"]},' in text or "user" not in m["payload"]
        messages.extend(data["messages"])
    assert any(m["msg_id"] > 2**53 for m in messages)
    methods = {m["method"] for m in messages}
    assert methods <= {
        "WebcastChatMessage",
        "WebcastGiftMessage",
        "WebcastLikeMessage",
        "WebcastMemberMessage",
        "WebcastSocialMessage",
        "WebcastRoomIntroMessage",
        "WebcastEmojiChatMessage",
        "WebcastFansclubMessage",
    }
    assert "WebcastChatMessage" in methods
    for m in messages:
        same_shape(CHAT_EXAMPLE["data"]["messages"][0], m)
        if m["method"] == "WebcastRoomIntroMessage":
            assert m["payload"]["room_id"] == 0
            assert m["payload"]["user"]["uid"] == 8401565526815
        else:
            assert m["payload"]["room_id"] == DEFAULT_ROOM_ID
        if m["method"] == "WebcastGiftMessage":
            assert re.fullmatch(r".+:送给主播 \d+个.+", m["payload"]["content"])
    ids = [m["msg_id"] for m in messages]
    assert len(ids) == len(set(ids))
    log_ids = [e["msg_id"] for e in sim.log(DEFAULT_WEB_RID)]
    positions = [log_ids.index(i) for i in ids]
    assert positions == sorted(positions)  # emission order kept


async def test_room_id_forms_and_methods_filter(live: Any) -> None:
    client, _, _, token = live
    url = f"https://live.douyin.com/{DEFAULT_WEB_RID}?enter_from_merge=web_live"
    await poll_until(client, {"token": token, "room_id": url}, 5)
    for ident in (DEFAULT_WEB_RID, str(DEFAULT_ROOM_ID), url):
        resp = await client.get(
            CHAT, params={"token": token, "room_id": ident, "cursor": "1_0_0_1", "methods": "all"}
        )
        data = orjson.loads(resp.content)["data"]
        assert data["messages"], ident
        assert data["ignores"] == []
    resp = await client.get(
        CHAT,
        params={
            "token": token,
            "room_id": DEFAULT_WEB_RID,
            "cursor": "1_0_0_1",
            "methods": "chat",
            "count": 500,
        },
    )
    data = orjson.loads(resp.content)["data"]
    assert {m["method"] for m in data["messages"]} <= {"WebcastChatMessage"}
    assert data["ignores"] and "WebcastChatMessage" not in data["ignores"]


async def test_cursor_internal_ext_and_server_position_agree(live: Any) -> None:
    client, svc, _, token = live
    base = {"token": token, "room_id": DEFAULT_WEB_RID, "count": 7}
    await poll_until(client, base, 30)
    other = await tokens.create(svc.store, "second")
    first = orjson.loads((await client.get(CHAT, params={**base, "token": other})).content)["data"]
    # wait (a condition, not a fixed time) until the next 7 are stored for all three calls
    after = parse_cursor(first["cursor"]).seq
    async with asyncio.timeout(60):
        while len((await svc.store.read(DEFAULT_ROOM_ID, after, 7, DEFAULT_METHODS)).messages) < 7:  # noqa: ASYNC110 (polls the store)
            await asyncio.sleep(0.05)
    by_cursor = orjson.loads(
        (await client.get(CHAT, params={**base, "cursor": first["cursor"]})).content
    )["data"]
    by_ext = orjson.loads(
        (await client.get(CHAT, params={**base, "internal_ext": first["internal_ext"]})).content
    )["data"]
    by_position = orjson.loads((await client.get(CHAT, params={**base, "token": other})).content)[
        "data"
    ]
    ids = [[m["msg_id"] for m in d["messages"]] for d in (by_cursor, by_ext, by_position)]
    assert ids[0] and ids[0] == ids[1] == ids[2]
    assert not set(ids[0]) & {m["msg_id"] for m in first["messages"]}


async def test_audience_upstream_passthrough(live: Any) -> None:
    client, _, sim, token = live
    await poll_until(client, {"token": token, "room_id": DEFAULT_WEB_RID}, 5)
    # upstream ranks only once the room had a gift (else the answer is the ledger's, rightly)
    rank_params = {"room_id": DEFAULT_ROOM_ID, "anchor_id": 8401565526815}
    async with httpx.AsyncClient() as raw, asyncio.timeout(60):
        while not (  # noqa: ASYNC110 (polls the simulator)
            await raw.get(f"{sim.base_url}/webcast/ranklist/audience/", params=rank_params)
        ).json()["data"]["ranks"]:
            await asyncio.sleep(0.05)
    body = orjson.loads(
        (await client.get(AUDIENCE, params={"token": token, "room_id": DEFAULT_WEB_RID})).content
    )
    assert body["data"]["source"] == "upstream"
    same_shape(AUDIENCE_EXAMPLE, body)
    async with httpx.AsyncClient() as raw:
        resp = await raw.get(f"{sim.base_url}/webcast/ranklist/audience/", params=rank_params)
    direct = resp.json()["data"]
    ours = body["data"]["data"]
    assert set(ours) == set(direct)  # Douyin's object, untouched
    assert set(ours["ranks"][0]) == set(direct["ranks"][0])
    assert set(ours["ranks"][0]["user"]) == set(direct["ranks"][0]["user"])


async def test_audience_falls_back_to_ledger(live: Any) -> None:
    client, svc, sim, token = live
    params = {"token": token, "room_id": DEFAULT_WEB_RID, "methods": "gift,room_rank,room_user_seq"}
    for _ in range(100):
        await poll_until(client, params, 1)
        if await svc.store.messages_of(DEFAULT_ROOM_ID, ["WebcastGiftMessage"], 0):
            break
        await asyncio.sleep(0.1)
    sim.set_faults(DEFAULT_WEB_RID, http_empty=1.0)  # upstream refuses every HTTP call
    body = orjson.loads(
        (await client.get(AUDIENCE, params={"token": token, "room_id": DEFAULT_WEB_RID})).content
    )
    assert body["code"] == 200 and body["data"]["source"] == "ledger"
    same_shape(AUDIENCE_EXAMPLE, body)
    ranks = body["data"]["data"]["ranks"]
    assert ranks, "gifts were stored, the ledger must rank their senders"
    assert [r["rank"] for r in ranks] == list(range(1, len(ranks) + 1))
    scores = [r["score"] for r in ranks]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0
    for r in ranks:
        assert isinstance(r["user"]["pay_grade"]["level"], int)
        assert isinstance(r["user"]["fans_club"]["data"]["level"], int)
