"""The web pages: ``GET /`` (sets ``ttwid``) and ``GET /<web_rid>`` (anti-crawl, then room page).

The room page embeds its data the way live.douyin.com does: escaped JSON inside
``self.__pace_f.push([1,"…"])`` script chunks, so the clients' regexes
(``roomId\\":\\"(\\d+)\\"``, ``user_unique_id\\":\\"(\\d+)\\"``, ``status_str\\":\\"(\\d+)\\"``,
``roomInfo\\":{…},\\"emojiList\\"``) find roomId, the visitor id, the status and the anchor.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from dylive.wire.signing import new_ac_nonce

from .catalog import EMOJIS
from .core import Simulator
from .defences import new_ttwid
from .era import Era, ac_nonce_2026
from .rooms import Room
from .upstream import avatar, guarded_request, room_fault, room_json

ANTI_CRAWL = """<!DOCTYPE html><html><head><meta charset="UTF-8"></head><body>
<script>
var nonce = "{nonce}";
document.cookie = "__ac_nonce=" + nonce + "; path=/; max-age=1800";
document.cookie = "__ac_referer=" + encodeURIComponent(location.href) + "; path=/";
window.setTimeout(function () {{ window.location.reload(); }}, 10);
</script></body></html>"""


def visitor_id(request: Request) -> str:
    """A 19-digit user_unique_id tied to the ttwid cookie (random without one)."""
    ttwid = request.cookies.get("ttwid") or secrets.token_hex(16)
    n = int.from_bytes(hashlib.sha256(ttwid.encode()).digest()[:8], "big")
    return str(7_300_000_000_000_000_000 + n % 600_000_000_000_000_000)


async def home(request: Request) -> Response:
    """www.douyin.com's role: sets ``__ac_nonce`` and ``ttwid`` (the visitor's own ttwid again
    when it sent one), like the real home page does on every visit."""
    resp = HTMLResponse(
        "<!DOCTYPE html><html><head><title>抖音直播</title></head><body></body></html>"
    )
    ttwid = request.cookies.get("ttwid") or new_ttwid()
    resp.set_cookie("ttwid", ttwid, max_age=31_536_000, path="/", httponly=True)
    resp.set_cookie("__ac_nonce", _nonce(request.app.state.sim.default_era), max_age=1800, path="/")
    return resp


def _nonce(era: Era) -> str:
    """An ``__ac_nonce``: era ``wire_2026`` gives the real shape (0 + hex time + 12 hex)."""
    return ac_nonce_2026() if era.wire_2026 else new_ac_nonce()


async def room_page(request: Request) -> Response:
    sim: Simulator = request.app.state.sim
    web_rid = request.path_params["web_rid"]
    if not request.cookies.get("__ac_nonce"):
        known = sim.registry.get(web_rid)
        era = known.era if known is not None else sim.default_era
        resp = HTMLResponse(ANTI_CRAWL.format(nonce=_nonce(era)))
        resp.set_cookie("__ac_nonce", _nonce(era), max_age=1800, path="/")
        return resp
    challenge = guarded_request(sim, request)
    if challenge is not None:
        return challenge
    room = sim.registry.get(web_rid) if web_rid.isdigit() else None
    fault = await room_fault(sim, room)
    if fault is not None:
        return fault
    uid = visitor_id(request)
    session = sim.guard.session(request.cookies.get("sessionid", ""))
    login = str(session.uid) if session is not None else ""
    if room is None:
        return HTMLResponse(render_page("抖音直播", [_odin(uid, login), {"error": "直播间不存在"}]))
    title = f"{room.anchor.nickname}的抖音直播间 - 抖音直播"
    state = _state(room, uid, login)
    return HTMLResponse(render_page(title, [_odin(uid, login), {"state": state}]))


def _odin(uid: str, login: str = "") -> dict[str, Any]:
    """The visitor block; ``login`` is the logged-in user's id ("" for a guest)."""
    return {
        "odin": {
            "user_id": login or "0",
            "user_unique_id": uid,
            "user_type": 12,
            "user_is_login": 1 if login else 0,
        }
    }


def _state(room: Room, uid: str, login: str = "") -> dict[str, Any]:
    anchor = room.anchor
    info = {
        "roomId": str(room.room_id),
        "web_rid": room.web_rid,
        "room": room_json(room),
        "anchor": {
            "id_str": str(anchor.id),
            "sec_uid": anchor.sec_uid,
            "nickname": anchor.nickname,
            "avatar_thumb": avatar(anchor),
            "follow_info": {"follower_count": anchor.follower_count},
        },
        "partition_road_map": {},
    }
    emojis = [{"emoji_id": i, "display_name": text} for i, text in EMOJIS]
    return {
        "appStore": {"appId": 6383, "isLogin": bool(login)},
        "userStore": _odin(uid, login),
        "roomStore": {"roomInfo": info, "emojiList": emojis, "isLiving": room.status == 2},
    }


def render_page(title: str, payloads: list[dict[str, Any]]) -> str:
    """HTML with one ``self.__pace_f.push([1,"…"])`` chunk per payload (Next.js RSC style)."""
    chunks = ['<script nonce="">self.__pace_f.push([0])</script>']
    for i, payload in enumerate(payloads):
        line = f"{i + 10:x}:" + json.dumps(
            ["$", "$L13", None, payload], ensure_ascii=False, separators=(",", ":")
        )
        chunk = json.dumps([1, line + "\n"], ensure_ascii=False, separators=(",", ":"))
        safe = chunk.replace("</", "<\\/")
        chunks.append(f'<script nonce="">self.__pace_f.push({safe})</script>')
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'<title>{escape(title)}</title></head><body><div id="root"></div>'
        + "".join(chunks)
        + "</body></html>"
    )
