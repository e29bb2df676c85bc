"""A new token's first call returns the last ``count`` messages *that match* its filter; the SSE
stream's first status event already has the room's viewers and likes, however busy the room."""

from __future__ import annotations

from typing import Any

import orjson

from dylive.store import Record, RoomRecord

ROOM = 7439018246715328306
WEB_RID = "80017709309"
CHAT = "WebcastChatMessage"
SEQ = "WebcastRoomUserSeqMessage"
LIKE = "WebcastLikeMessage"


def rec(msg_id: int, method: str, **payload: Any) -> Record:
    body = {"method": method, "msg_id": msg_id, "payload": {"room_id": ROOM, **payload}}
    return Record(ROOM, msg_id, method, 1, orjson.dumps(body), b"")


async def fill(svc: Any, records: list[Record]) -> None:
    # served from the store: the upstream of `offline_api` is unreachable
    await svc.store.upsert_room(RoomRecord(ROOM, web_rid=WEB_RID, status=2))
    await svc.store.append(records)


async def test_first_call_backlog_is_the_last_matching_messages(
    offline_api: Any, make_token: Any
) -> None:
    client, svc = offline_api
    chats = [rec(i, CHAT, content=f"chat {i}") for i in range(1, 6)]
    likes = [rec(i, LIKE, like={"count": 1, "total": i}) for i in range(6, 60)]
    await fill(svc, chats + likes)
    token = await make_token(svc)
    resp = await client.get(
        "/douyin/liveroom/chat",
        params={"token": token, "room_id": WEB_RID, "methods": "chat", "count": 3},
    )
    assert resp.status_code == 200, resp.text
    data = orjson.loads(resp.content)["data"]
    assert [m["msg_id"] for m in data["messages"]] == [3, 4, 5]
    # the default filter too: the latest 2 of the default methods, not 2 likes of 54
    other = await make_token(svc, "other")
    resp = await client.get(
        "/douyin/liveroom/chat",
        params={"token": other, "room_id": WEB_RID, "methods": "chat,like", "count": 2},
    )
    assert [m["msg_id"] for m in orjson.loads(resp.content)["data"]["messages"]] == [58, 59]


async def test_first_status_event_has_viewers_and_likes(offline_api: Any, make_token: Any) -> None:
    client, svc = offline_api
    counters = [rec(1, SEQ, viewers={"total": 2174}), rec(2, LIKE, like={"count": 3, "total": 99})]
    chats = [rec(i, CHAT, content="busy") for i in range(3, 800)]
    await fill(svc, counters + chats)
    token = await make_token(svc)
    params = {"token": token, "count": 0}
    async with client.stream("GET", f"/api/rooms/{WEB_RID}/stream", params=params) as resp:
        assert resp.status_code == 200
        event = ""
        async for line in resp.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "status":
                status = orjson.loads(line[5:])
                break
    assert status["viewers"] == 2174
    assert status["likes_total"] == 99
