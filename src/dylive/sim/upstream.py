"""Douyin's HTTP endpoints: web/enter, im/fetch, ranklist/audience, gift/list.

web/enter looks the room up by ``web_rid``, or by ``room_id_str`` when no web_rid is given.

Refusals like Douyin: a request whose ``a_bogus`` fails the configured strictness gets HTTP 200
with an empty body. Per-room faults add delay, 502s and empty 200s.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dylive.wire.frames import encode_response
from dylive.wire.signing import verify_signed_query

from .catalog import GIFTS
from .core import Simulator
from .defences import GIFT, VERIFY_PAGE, Visitor
from .era import Era, refusal_headers
from .positions import fetch_ext, make_cursor
from .rooms import ENDED, LIVE, Room, now_ms
from .users import SimUser, user_json

PROTOBUF = "application/x-protobuf"


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


def empty(era: Era | None = None) -> Response:
    """Douyin's refusal: HTTP 200 with nothing in it (era ``wire_2026``: no content type, the
    keep-alive and x-tt-* headers real refusals carry)."""
    if era is not None and era.wire_2026:
        return Response(b"", status_code=200, headers=refusal_headers())
    return Response(b"", status_code=200, media_type="application/json")


def era_of(sim: Simulator, room: Room | None) -> Era:
    return room.era if room is not None else sim.default_era


def visitor(sim: Simulator, request: Request) -> Visitor:
    client = request.client
    return sim.guard.visitor(request.cookies, client.host if client else "")


def guarded_request(sim: Simulator, request: Request) -> Response | None:
    """Risk counting of a page / web-enter / ranklist request, and the verification page."""
    sim.guard.risk.on_request(visitor(sim, request))
    if sim.guard.needs_verification(request.cookies):
        return Response(VERIFY_PAGE.encode(), status_code=200, media_type="text/html")
    return None


def push_servers(sim: Simulator, request: Request) -> tuple[str, str]:
    """``(push_server, push_server_v2)`` of an im/fetch answer."""
    own = f"ws://{request.url.netloc}/webcast/im/push/v2/"
    listed = sim.config.defences.push_servers
    if not listed:
        return own, ""
    hosts = [own if h == "self" else h for h in listed]
    return "", ",".join(hosts)


def refused(sim: Simulator, request: Request) -> bool:
    """True when the a_bogus check (``--abogus``) refuses the request."""
    if sim.config.abogus == "off":
        return False
    raw = request.scope.get("query_string", b"").decode("latin-1")
    ua = request.headers.get("user-agent", "")
    return verify_signed_query(raw, ua, strictness=sim.config.abogus) is not None


async def room_fault(sim: Simulator, room: Room | None) -> Response | None:
    """slow_ms, http_5xx, http_empty of the room (None = answer normally)."""
    if room is None:
        return None
    f = room.faults
    if f.slow_ms:
        await asyncio.sleep(f.slow_ms / 1000)
    rng = sim.http_rng
    if f.http_5xx and rng.random() < f.http_5xx:
        body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        return Response(body, status_code=502, media_type="text/html")
    if f.http_empty and rng.random() < f.http_empty:
        return empty(room.era)
    return None


def _room_by_id(sim: Simulator, raw: str | None) -> Room | None:
    return sim.registry.by_id(int(raw)) if raw and raw.isdigit() else None


def avatar(u: SimUser) -> dict[str, Any]:
    return {"url_list": u.avatar_urls(), "uri": f"100x100/{u.avatar_uri}"}


def owner_json(u: SimUser) -> dict[str, Any]:
    return {
        "id_str": str(u.id),
        "sec_uid": u.sec_uid,
        "nickname": u.nickname,
        "display_id": u.display_id,
        "avatar_thumb": avatar(u),
        "follow_info": {"follower_count": u.follower_count, "follow_status": 0},
    }


def room_json(room: Room, past_room_id: int = 0) -> dict[str, Any]:
    """``data.data[0]`` of web/enter (also embedded in the room page); ``past_room_id``
    describes an earlier, ended broadcast of the room instead of its current one."""
    status = ENDED if past_room_id else room.status
    online = room.script.c.online if status == LIVE else 0
    return {
        "id_str": str(past_room_id or room.room_id),
        "status": status,
        "status_str": str(status),
        "title": room.spec.title,
        "user_count_str": str(online),
        "like_count": room.script.c.likes,
        "owner": owner_json(room.anchor),
        "owner_user_id_str": str(room.anchor.id),
        "admin_user_ids_str": [],
        "stats": {"total_user_str": str(room.script.c.total_user), "user_count_str": str(online)},
        "room_view_stats": {
            "is_hidden": False,
            "display_short": str(online),
            "display_middle": str(online),
            "display_long": f"{online}在线观众",
            "display_value": online,
            "display_version": now_ms(),
            "incremental": False,
            "display_type": 1,
        },
        "room_auth": {"Chat": True, "Gift": True, "Digg": True, "Share": True},
    }


def _enter_target(sim: Simulator, request: Request) -> tuple[Room | None, int]:
    """The room web/enter asks about and the room_id to describe (0 = its current one).

    ``web_rid`` wins; without it ``room_id_str`` names the room, possibly an earlier broadcast
    of it (then described as that broadcast: its own room_id, status ended).
    """
    q = request.query_params
    web_rid = q.get("web_rid", "")
    if web_rid:
        return sim.registry.get(web_rid), 0
    room = _room_by_id(sim, q.get("room_id_str"))
    if room is None:
        return None, 0
    asked = int(q["room_id_str"])
    return room, 0 if asked == room.room_id else asked


async def web_enter(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    if refused(sim, request):
        return empty(sim.default_era)
    challenge = guarded_request(sim, request)
    if challenge is not None:
        return challenge
    room, old_id = _enter_target(sim, request)
    fault = await room_fault(sim, room)
    if fault is not None:
        return fault
    if room is None:
        data: dict[str, Any] = {"data": [], "enter_room_id": "", "room_status": 2, "user": {}}
        data["prompts"] = "直播间不存在"
    else:
        entry = room_json(room, old_id)
        data = {
            "data": [entry],
            "enter_room_id": entry["id_str"],
            "user": owner_json(room.anchor),
            "room_status": 0 if entry["status"] == LIVE else 2,
            "qrcode_url": "",
            "partition_road_map": {},
            "similar_rooms": [],
        }
    return json_response({"data": data, "extra": {"now": now_ms()}, "status_code": 0})


async def im_fetch(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    q = request.query_params
    room = _room_by_id(sim, q.get("room_id"))
    if refused(sim, request) or not q.get("room_id", "").isdigit():
        return empty(era_of(sim, room))
    fault = await room_fault(sim, room)
    if fault is not None:
        return fault
    who = visitor(sim, request)
    if room is not None:
        sim.guard.risk.on_join(who, room.room_id)
        if sim.guard.blocked(who) or sim.guard.risk.guest_poll_refused(who, room.room_id):
            return empty(room.era)
    now = now_ms()
    push_server, push_v2 = push_servers(sim, request)
    bc = room.broadcast_of(int(q["room_id"])) if room is not None else None
    if room is None or bc is None:
        cursor = make_cursor(now, 0)
        body = encode_response(
            [], cursor=cursor, internal_ext=fetch_ext(now, now, 0, cursor), now=now,
            push_server=push_server, push_server_v2=push_v2, history_no_more=True,
        )  # fmt: skip
        return Response(body, media_type=PROTOBUF)
    limit = room.limit_of(bc)
    pos = room.resolve(q.get("cursor", ""), q.get("internal_ext", ""))
    if pos is None:
        backlog = q.get("need_persist_msg_count", "")
        n = int(backlog) if backlog.isdigit() else sim.config.backlog
        start = room.clamp(limit - n, bc)
        entries = room.log[start:limit]
    else:
        start = room.clamp(pos, bc)
        entries = room.entries(start, sim.config.fetch_max, limit)
    end = start + len(entries)
    cursor = room.cursor(now, end, bc)
    if not sim.guard.gifts_visible(who):
        entries = [e for e in entries if e.method != GIFT]
    if room.era.mask_guests and sim.guard.session(who.sid) is None:
        entries = [e.masked_view(room.web_rid, room.anchor.id) for e in entries]
    body = encode_response(
        [e.raw() for e in entries],
        cursor=cursor,
        internal_ext=fetch_ext(now, bc.started_ms, end, cursor),
        fetch_interval=1000,
        now=now,
        need_ack=False,
        push_server=push_server,
        push_server_v2=push_v2,
        history_no_more=end >= limit,
    )
    return Response(body, media_type=PROTOBUF)


def ranks_json(room: Room, room_id: int, top: int = 100) -> dict[str, Any]:
    scores = room.script.c.scores if room_id == room.room_id else {}
    best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    ranks = []
    for i, (uid, score) in enumerate(best[:top]):
        upper = best[i - 1][1] if i else score + score - (best[1][1] if len(best) > 1 else 0)
        ranks.append(
            {
                "rank": i + 1,
                "score": score,
                "delta": 0,
                "gap_description": str(upper - score),
                "exactly_score": score,
                "score_description": "",
                "first_gift": False,
                "is_hidden": False,
                "user": user_json(room.script.c.users[uid]),
            }
        )
    return {
        "currency": "音浪",
        "has_more": len(best) > top,
        "has_once_live": True,
        "invisible_total": 0,
        "music_wave": "音浪",
        "ranks": ranks,
        "total": len(best),
        "user_count_desc": f"{room.script.c.online}" if room.status == LIVE else "0",
        "self_info": {},
    }


async def ranklist_audience(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    raw = request.query_params.get("room_id", "")
    if refused(sim, request) or not raw.isdigit():
        return empty(era_of(sim, _room_by_id(sim, raw)))
    sim.guard.risk.on_request(visitor(sim, request))
    room = _room_by_id(sim, raw)
    fault = await room_fault(sim, room)
    if fault is not None:
        return fault
    if room is None:
        data: dict[str, Any] = {"ranks": [], "total": 0, "has_more": False, "currency": "音浪"}
    else:
        data = ranks_json(room, int(raw))
    return json_response({"data": data, "extra": {"now": now_ms()}, "status_code": 0})


async def gift_list(request: Request) -> Response:
    data = {"gifts": [g.as_json() for g in GIFTS], "doodle_templates": [], "pages": []}
    return json_response({"data": data, "extra": {"now": now_ms()}, "status_code": 0})
