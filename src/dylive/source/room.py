"""Room resolution: a live URL, a web_rid or a room_id → :class:`RoomInfo` (douyin-protocol.md §1).

Public API (stable; the API service calls it)::

    info = await resolve_room("https://live.douyin.com/123456", upstream="http://127.0.0.1:9000")
    info.room_id, info.user_unique_id, info.status, info.anchor_nickname, info.cookie

``resolve_room(ident, *, upstream, client=None, identity=None, signing=None, require_live=True,
on_refusal=None)`` raises :class:`~dylive.errors.RoomNotFound` (no such room / bad identifier),
:class:`~dylive.errors.RoomNotLive` (``require_live`` and the broadcast is not on) and
:class:`~dylive.errors.UpstreamError` (the upstream is down or refuses us).

Method B, ``/webcast/room/web/enter/`` (signed with a_bogus unless ``signing="off"``), is asked
first: it is the only way for a bare room_id. An empty 200 body from web/enter is a refusal: one
retry with a fresh signature, then method A, the page scrape (``__ac_nonce`` challenge answered,
Next.js chunks parsed), gives the room info. The page is also used when web/enter names no room.
Every empty body is reported to ``on_refusal("web/enter")`` (the collector counts them in its
health). A room that does not resolve is never assumed to exist: a bare room_id web/enter
does not know is a RoomNotFound, one whose web/enter is refused an UpstreamError (the
SignatureRefused), so nothing starts collecting a room that may not exist. Ids from the
identifier and from upstream are ASCII digits within Douyin's signed 64 bits.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from dylive import settings
from dylive.errors import (
    RoomNotFound,
    RoomNotLive,
    SignatureRefused,
    UpstreamError,
    VerificationRequired,
)
from dylive.numbers import I64_MAX, ascii_uint, is_ascii_digits
from dylive.source import urls
from dylive.source.credentials import Identity, cookie_pairs, merge_cookies, set_cookies
from dylive.source.refusal import RefusalHook, send_signed
from dylive.source.responses import unbind
from dylive.source.tls import tls_context
from dylive.wire.signing import ac_signature, generate_mstoken, sign_query

log = logging.getLogger(__name__)

__all__ = ["STATUS_ENDED", "STATUS_LIVE", "RefusalHook", "RoomInfo", "parse_ident", "resolve_room"]

#: Called with the endpoint ("web/enter", "im/fetch") each time it answers an empty 200 body.

STATUS_LIVE = 2
STATUS_ENDED = 4

_ROOM_ID = re.compile(r'roomId\\?"\s*:\s*\\?"([0-9]+)\\?"')
_UNIQUE_ID = re.compile(r'user_unique_id\\?"\s*:\s*\\?"(\d+)\\?"')
_STATUS = re.compile(r'status_str\\?"\s*:\s*\\?"(\d+)\\?"')
#: Markers of Douyin's verification (captcha) page, served with HTTP 200 instead of room data.
_VERIFY_MARKERS = ("验证码中间页", "captcha_container", "verifycenter", "verify_event")
_PACE = re.compile(r'self\.__pace_f\.push\(\[1,\s*("(?:[^"\\]|\\.)*")\]\)')


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """What resolution learned about a room; ``cookie`` is the header to send from now on."""

    web_rid: str
    room_id: int
    status: int
    title: str = ""
    anchor_nickname: str = ""
    anchor_uid: str = ""
    anchor_sec_uid: str = ""
    anchor_display_id: str = ""
    user_unique_id: str = ""
    cookie: str = field(default="", repr=False)  # session secrets (ttwid, msToken): never logged

    @property
    def live(self) -> bool:
        return self.status == STATUS_LIVE


def parse_ident(ident: str | int) -> tuple[str, str]:
    """``(web_rid, room_id)``; one of them empty. A 16+ digit number is a room_id."""
    text = str(ident).strip()
    if "://" in text or text.startswith(("live.douyin.com", "www.")):
        parts = urlsplit(text if "://" in text else "https://" + text)
        segs = [s for s in parts.path.split("/") if s]
        text = segs[-1] if segs else ""
    if not is_ascii_digits(text, 19):
        raise RoomNotFound(f"not a Douyin live room URL, web_rid or room_id: {str(ident)[:100]!r}")
    if len(text) >= 16 and int(text) > I64_MAX:
        raise RoomNotFound(f"room_id out of range (Douyin's are 64-bit): {text!r}")
    return ("", text) if len(text) >= 16 else (text, "")


def _random_unique_id() -> str:
    return str(secrets.choice(range(73, 80))) + "".join(
        secrets.choice("0123456789") for _ in range(17)
    )


class _Resolver:
    """One resolution: keeps the growing cookie header and the request plumbing."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        upstream: str,
        identity: Identity,
        signing: str,
        on_refusal: RefusalHook | None = None,
    ) -> None:
        self.client = client
        self.upstream = upstream.rstrip("/")
        self.identity = identity
        self.signing = signing
        self.on_refusal = on_refusal
        self.cookie = identity.cookie

    def _headers(self, referer: str | None = None) -> dict[str, str]:
        h = {"User-Agent": self.identity.user_agent, "Accept-Language": "zh-CN,zh;q=0.9"}
        if self.cookie:
            h["Cookie"] = self.cookie
        if referer:
            h["Referer"] = referer
        return h

    async def get(self, url: str, referer: str | None = None) -> httpx.Response:
        try:
            resp = unbind(await self.client.get(url, headers=self._headers(referer)))
        except httpx.HTTPError as exc:
            raise UpstreamError(f"upstream unreachable: {url.split('?')[0]}: {exc!r}") from exc
        self.cookie = merge_cookies(self.cookie, set_cookies(resp.headers.multi_items()))
        if resp.status_code >= 500 or resp.status_code == 429:
            raise UpstreamError(f"upstream answered HTTP {resp.status_code} for {resp.url.path}")
        return resp

    async def ensure_ttwid(self, *, again: bool = False) -> None:
        """The ttwid (and ``__ac_nonce``) flow: the home page sets them; ``again`` redoes it."""
        if again or "ttwid" not in cookie_pairs(self.cookie):
            await self.get(self.upstream + "/")
        if "msToken" not in cookie_pairs(self.cookie):
            self.cookie = merge_cookies(self.cookie, {"msToken": generate_mstoken()})

    async def challenged(self, send: Any, what: str, room: str) -> httpx.Response:
        """``send()``; a verification page is a challenge: redo the ttwid / ``__ac_nonce`` flow
        once and ask again, then raise :class:`VerificationRequired`."""
        resp: httpx.Response = await send()
        if not is_verification_page(resp):
            return resp
        log.info("room %s: %s answered a verification page; redoing the ttwid flow", room, what)
        await self.ensure_ttwid(again=True)
        resp = await send()
        if is_verification_page(resp):
            raise VerificationRequired(
                f"{what}: Douyin asks for verification (captcha); use a logged-in cookie, "
                "another exit or wait",
                room_id=room,
            )
        return resp

    async def page(self, web_rid: str) -> str:
        url = urls.page_url(self.upstream, web_rid)
        resp = await self.challenged(lambda: self.get(url), "room page", web_rid)
        if resp.status_code == 404:
            raise RoomNotFound(f"no live room {web_rid}", room_id=web_rid)
        text = resp.text
        nonce = cookie_pairs(self.cookie).get("__ac_nonce")
        if _ROOM_ID.search(text) is None and nonce:
            host = urlsplit(self.upstream).netloc + "/"
            sig = ac_signature(host, nonce, self.identity.user_agent, ts=int(time.time()))
            self.cookie = merge_cookies(self.cookie, {"__ac_signature": sig}, override=True)
            resp = await self.get(url)
            text = resp.text
        return text

    async def enter(self, web_rid: str, room_id: str) -> dict[str, Any]:
        ms_token = cookie_pairs(self.cookie).get("msToken") or generate_mstoken()
        params = urls.enter_params(
            web_rid, room_id, user_agent=self.identity.user_agent, ms_token=ms_token
        )
        referer = urls.page_url(self.upstream, web_rid or "")

        def signed_url() -> str:
            query = urls.encode_query(params)
            if self.signing != "off":
                query = sign_query(query, self.identity.user_agent, generation=self.signing)
            return urls.enter_url(self.upstream, query)

        async def send() -> httpx.Response:
            return await send_signed(
                "web/enter",
                signed_url,
                lambda url: self.get(url, referer),
                room_id=web_rid or room_id,
                on_refusal=self.on_refusal,
            )

        return _json(await self.challenged(send, "web/enter", web_rid or room_id))


def is_verification_page(resp: httpx.Response) -> bool:
    """An HTTP 200 HTML verification (captcha) page instead of room data."""
    if resp.status_code != 200 or "html" not in resp.headers.get("content-type", ""):
        return False
    text = resp.text
    return any(m in text for m in _VERIFY_MARKERS) and _ROOM_ID.search(text) is None


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError as exc:
        raise UpstreamError(f"web/enter: not JSON (HTTP {resp.status_code})") from exc
    if not isinstance(data, dict):
        raise UpstreamError("web/enter: unexpected JSON")
    return data


def _chunks(text: str) -> str:
    """The page's Next.js script chunks, unescaped and concatenated."""
    out = []
    for m in _PACE.finditer(text):
        try:
            out.append(json.loads(m.group(1)))
        except ValueError:
            continue
    return "\n".join(x for x in out if isinstance(x, str))


def _object_at(text: str, key: str) -> dict[str, Any]:
    m = re.search(rf'"{re.escape(key)}"\s*:\s*', text)
    if m is None:
        return {}
    try:
        obj, _ = json.JSONDecoder().raw_decode(text, m.end())
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def _s(obj: Any, *path: str) -> str:
    for key in path:
        if not isinstance(obj, dict):
            return ""
        obj = obj.get(key)
    return "" if obj is None or isinstance(obj, dict | list) else str(obj)


def info_from_page(web_rid: str, text: str) -> RoomInfo | None:
    """Parse a room page; None when it carries no roomId (challenge page, unknown room)."""
    plain = _chunks(text) or text
    m = _ROOM_ID.search(plain) or _ROOM_ID.search(text)
    if m is None:
        return None
    room_info = _object_at(plain, "roomInfo")
    room_id = _room_id(_s(room_info, "roomId") or m.group(1))
    if room_id is None:
        return None
    room = room_info.get("room") if isinstance(room_info.get("room"), dict) else {}
    anchor = room_info.get("anchor") or (room or {}).get("owner") or {}
    status = _s(room, "status") or _first(_STATUS, plain, text) or "0"
    uid = _first(_UNIQUE_ID, plain, text)
    return RoomInfo(
        web_rid=web_rid,
        room_id=room_id,
        status=ascii_uint(status, max_digits=4) or 0,
        title=_s(room, "title"),
        anchor_nickname=_s(anchor, "nickname"),
        anchor_uid=_s(anchor, "id_str") or _s(anchor, "uid"),
        anchor_sec_uid=_s(anchor, "sec_uid"),
        anchor_display_id=_s(anchor, "display_id")
        or _s(room, "owner", "display_id")
        or _s(anchor, "unique_id"),
        user_unique_id=uid,
    )


def _room_id(text: str) -> int | None:
    """A room id upstream gave: ASCII digits within Douyin's int64, else None."""
    value = ascii_uint(text, max_digits=19)
    return value if value is not None and 0 < value <= I64_MAX else None


def _first(rx: re.Pattern[str], *texts: str) -> str:
    for t in texts:
        m = rx.search(t)
        if m:
            return m.group(1)
    return ""


def _dict(obj: Any) -> dict[str, Any]:
    return obj if isinstance(obj, dict) else {}


def info_from_enter(web_rid: str, data: dict[str, Any]) -> RoomInfo | None:
    """Parse a web/enter JSON body; None when it names no room."""
    body: dict[str, Any] = _dict(data.get("data"))
    rooms = body.get("data") if isinstance(body.get("data"), list) else []
    room = _dict(rooms[0] if rooms else body.get("room"))
    room_id = _room_id(_s(room, "id_str") or _s(body, "enter_room_id"))
    if room_id is None:
        return None
    anchor = _dict(body.get("user") or room.get("owner"))
    status = _s(room, "status")
    return RoomInfo(
        web_rid=web_rid or _s(room, "owner", "web_rid") or _s(anchor, "web_rid"),
        room_id=room_id,
        status=ascii_uint(status, max_digits=4) or 0,
        title=_s(room, "title"),
        anchor_nickname=_s(anchor, "nickname"),
        anchor_uid=_s(anchor, "id_str"),
        anchor_sec_uid=_s(anchor, "sec_uid"),
        anchor_display_id=_s(anchor, "display_id") or _s(anchor, "unique_id"),
    )


async def _resolve(r: _Resolver, web_rid: str, room_id: str) -> RoomInfo:
    await r.ensure_ttwid()
    info: RoomInfo | None = None
    refused: SignatureRefused | None = None
    try:
        info = info_from_enter(web_rid, await r.enter(web_rid, room_id))
    except SignatureRefused as exc:
        refused = exc
    if info is None and web_rid:
        if refused is not None:
            log.info("web/enter refused for %s; scraping the page", web_rid)
        info = info_from_page(web_rid, await r.page(web_rid))
        if info is None and refused is not None:
            raise refused  # no room info at all: an upstream failure, not an unknown room
    if info is None and refused is not None:
        raise refused  # could not ask: an upstream failure, not an unknown room
    if info is None:  # a room that does not resolve starts nothing
        raise RoomNotFound(f"no live room {web_rid or room_id}", room_id=web_rid or room_id)
    uid = info.user_unique_id or _random_unique_id()
    return replace(info, user_unique_id=uid, cookie=r.cookie)


def make_client(identity: Identity, *, timeout: float = 10.0) -> httpx.AsyncClient:
    """An httpx client with the identity's proxy (env proxies ignored)."""
    return httpx.AsyncClient(
        proxy=identity.proxy, timeout=timeout, trust_env=False, verify=tls_context()
    )


async def resolve_room(
    ident: str | int,
    *,
    upstream: str | None = None,
    client: httpx.AsyncClient | None = None,
    identity: Identity | None = None,
    signing: str | None = None,
    require_live: bool = True,
    on_refusal: RefusalHook | None = None,
) -> RoomInfo:
    """Resolve ``ident`` (URL, web_rid or room_id) against ``upstream`` (DYLIVE_UPSTREAM);
    ``signing`` is the a_bogus generation (DYLIVE_SIGNING: v1, v2 or off)."""
    web_rid, room_id = parse_ident(ident)
    ident_ = identity or Identity.build()
    own = client is None
    http = client or make_client(ident_)
    try:
        resolver = _Resolver(
            http,
            upstream or settings.get("upstream"),
            ident_,
            signing or settings.get("signing"),
            on_refusal,
        )
        info = await _resolve(resolver, web_rid, room_id)
    finally:
        if own:
            await http.aclose()
    if require_live and not info.live:
        raise RoomNotLive(
            f"room {info.web_rid or info.room_id} is not live (status {info.status})",
            room_id=info.room_id,
        )
    return info
