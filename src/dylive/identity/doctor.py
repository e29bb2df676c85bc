"""``dylive doctor``: check, in order, everything a collection needs from Douyin.

Each check returns a :class:`Check` (passed, one line of what was seen, what to do when it
failed). :func:`diagnose` runs them in order with one cookie jar, as a browser visit would:
home page and ``__ac_nonce``, ttwid, room page, signed web/enter, signed push handshake,
im/fetch, ranklist, the cookie's login state, gift visibility (the room is watched for a bounded
time), whether users arrive masked (``users_masked``: a logged-in identity unmasks them), whether
the push socket is silent while the room is live (``silent_socket``) and the proxy's exit. A check that cannot run because an earlier one failed is skipped
(``None``); no exception ever leaves :func:`diagnose`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from dylive.decode import decode
from dylive.errors import HandshakeRefused
from dylive.source import urls
from dylive.source.coverage import Coverage
from dylive.source.credentials import Identity, cookie_pairs, merge_cookies, set_cookies
from dylive.source.options import HOUSEKEEPING
from dylive.source.push import PushOptions, build_push_url, open_socket
from dylive.source.ranklist import fetch_audience_ranklist
from dylive.source.room import RoomInfo, info_from_enter, info_from_page, is_verification_page
from dylive.source.transport import Position
from dylive.wire.frames import Batch, parse_response
from dylive.wire.session import PushSession
from dylive.wire.signing import generate_mstoken, sign_query

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool | None  # None = skipped
    detail: str
    advice: str = ""

    def line(self) -> str:
        mark = "✓" if self.ok else ("–" if self.ok is None else "✗")
        text = f"{mark} {self.name}: {self.detail}"
        return text + (f" — {self.advice}" if self.advice and not self.ok else "")


@dataclass(slots=True)
class _Watched:
    """What the watch of the push socket saw (for the users and silent-socket checks)."""

    coverage: Coverage
    business: int = 0  # messages other than RoomStats / RoomUserSeq
    housekeeping: int = 0


@dataclass(slots=True)
class _Visit:
    """The state of one doctor run: cookies so far, the room learned."""

    client: httpx.AsyncClient
    upstream: str
    identity: Identity
    web_rid: str
    signing: str
    cookie: str = ""
    info: RoomInfo | None = None
    batch: Batch | None = None
    results: dict[str, bool | None] = field(default_factory=dict)
    watched: _Watched | None = None  # what the gift watch saw on the push socket

    def headers(self, referer: str = "") -> dict[str, str]:
        h = {"User-Agent": self.identity.user_agent}
        if self.cookie:
            h["Cookie"] = self.cookie
        if referer:
            h["Referer"] = referer
        return h

    async def get(self, url: str, referer: str = "") -> httpx.Response:
        resp = await self.client.get(url, headers=self.headers(referer))
        self.cookie = merge_cookies(self.cookie, set_cookies(resp.headers.multi_items()))
        return resp


async def check_home(v: _Visit) -> Check:
    resp = await v.get(urls.join(v.upstream, "/"))
    nonce = set_cookies(resp.headers.multi_items()).get("__ac_nonce")
    if resp.status_code != 200:
        return Check("home page", False, f"HTTP {resp.status_code}", "check --upstream / proxy")
    if not nonce:
        return Check("home page", False, "no __ac_nonce cookie", "the anti-crawl flow changed")
    return Check("home page", True, f"HTTP 200, __ac_nonce set ({len(nonce)} chars)")


async def check_ttwid(v: _Visit) -> Check:
    if not cookie_pairs(v.cookie).get("ttwid"):
        await v.get(urls.join(v.upstream, "/"))
    ttwid = cookie_pairs(v.cookie).get("ttwid", "")
    if not ttwid:
        return Check("ttwid", False, "no ttwid cookie", "the visitor token flow is refused")
    v.cookie = merge_cookies(v.cookie, {"msToken": generate_mstoken()})
    return Check("ttwid", True, f"ttwid {ttwid[:8]}…")


async def check_page(v: _Visit) -> Check:
    url = urls.page_url(v.upstream, v.web_rid)
    resp = await v.get(url)
    if is_verification_page(resp):
        return Check("room page", False, "verification page (captcha)", VERIFY_ADVICE)
    info = info_from_page(v.web_rid, resp.text)
    if info is None:
        return Check("room page", False, f"no roomId (HTTP {resp.status_code})", NOT_FOUND)
    v.info = info
    return Check("room page", True, f"room_id {info.room_id}, status {info.status}")


async def check_enter(v: _Visit) -> Check:
    params = urls.enter_params(
        v.web_rid, "", user_agent=v.identity.user_agent, ms_token=_ms_token(v)
    )
    query = urls.encode_query(params)
    if v.signing != "off":
        query = sign_query(query, v.identity.user_agent, generation=v.signing)
    resp = await v.get(urls.enter_url(v.upstream, query), urls.page_url(v.upstream, v.web_rid))
    if not resp.content.strip():
        return Check("web/enter (signed)", False, "empty 200: a_bogus refused", SIGNING_ADVICE)
    if is_verification_page(resp):
        return Check("web/enter (signed)", False, "verification page", VERIFY_ADVICE)
    info = info_from_enter(v.web_rid, resp.json())
    if info is None:
        return Check("web/enter (signed)", False, "no such room", NOT_FOUND)
    v.info = v.info or info
    live = "live" if info.live else f"not live (status {info.status})"
    return Check("web/enter (signed)", True, f"{info.anchor_nickname or v.web_rid}: {live}")


async def check_fetch(v: _Visit) -> Check:
    info = _info(v)
    params = urls.fetch_params(
        str(info.room_id), info.user_unique_id or "7300000000000000000",
        cursor="", internal_ext="", user_agent=v.identity.user_agent, ms_token=_ms_token(v),
    )  # fmt: skip
    query = urls.encode_query(params, plus_spaces=True)
    if v.signing != "off":
        query = sign_query(query, v.identity.user_agent, generation=v.signing)
    resp = await v.get(urls.fetch_url(v.upstream, query), urls.page_url(v.upstream, v.web_rid))
    if not resp.content:
        return Check("im/fetch", False, "empty 200", "refused for this identity: " + RISK_ADVICE)
    v.batch = parse_response(resp.content)
    servers = ", ".join(v.batch.push_servers) or "none named"
    return Check("im/fetch", True, f"{len(v.batch.messages)} messages; push: {servers}")


async def check_push(v: _Visit) -> Check:
    info = _info(v)
    server = _push_server(v)
    url = build_push_url(server, info, v.identity, Position())
    try:
        ws = await open_socket(url, _with_cookie(v), v.identity, _push_options(v))
    except HandshakeRefused as exc:
        return Check("push handshake (signed)", False, f"refused: {exc.handshake_msg}", RISK_ADVICE)
    await ws.close()
    return Check("push handshake (signed)", True, f"upgraded at {urls.push_base(server)}")


async def check_ranklist(v: _Visit) -> Check:
    info = _info(v)
    data = await fetch_audience_ranklist(
        v.client, upstream=v.upstream, room_id=info.room_id, anchor_id=info.anchor_uid,
        sec_anchor_id=info.anchor_sec_uid, web_rid=v.web_rid, user_agent=v.identity.user_agent,
        cookie=v.cookie, signing=v.signing,
    )  # fmt: skip
    ranks = data.get("ranks") or []
    return Check("ranklist", True, f"{len(ranks)} ranked viewers")


async def check_login(v: _Visit) -> Check:
    pairs = cookie_pairs(v.identity.cookie)
    if not pairs.get("sessionid") and not pairs.get("sessionid_ss"):
        return Check("login", None, "guest (no sessionid cookie): gifts may be hidden")
    resp = await v.get(urls.page_url(v.upstream, v.web_rid))
    text = resp.text
    if 'user_is_login\\":1' in text or '"user_is_login":1' in text:
        return Check("login", True, "the cookie is logged in")
    return Check("login", False, "the cookie is no longer logged in (expired)", LOGIN_ADVICE)


def _push_options(v: _Visit) -> PushOptions:
    return PushOptions(open_timeout=10.0, upstream=v.upstream, ping_interval=None)


async def check_gifts(v: _Visit, seconds: float) -> Check:
    """Watch the room: fan-ticket / ranking growth vs gift messages."""
    info = _info(v)
    url = build_push_url(_push_server(v), info, v.identity, Position())
    coverage = Coverage()
    seen = v.watched = _Watched(coverage)
    try:
        ws = await open_socket(url, _with_cookie(v), v.identity, _push_options(v))
    except HandshakeRefused as exc:
        return Check("gift visibility", False, f"push refused: {exc.handshake_msg}", RISK_ADVICE)
    session = PushSession()
    sys.stderr.write(f"gift visibility: watching the room up to {seconds:g} s…\n")
    end = time.monotonic() + seconds
    beat = time.monotonic()
    async with ws:
        with contextlib.suppress(websockets.ConnectionClosed):
            while time.monotonic() < end and "unknown" in (coverage.verdict, coverage.users):
                data: str | bytes = b""
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.05, min(2.0, end - time.monotonic()))):
                        data = await ws.recv()
                if isinstance(data, bytes) and data:
                    for raw in session.receive_frame(data):
                        coverage.observe(decode(raw, room_id=info.room_id))
                        if raw.method in HOUSEKEEPING:
                            seen.housekeeping += 1
                        else:
                            seen.business += 1
                for out in session.data_to_send():
                    await ws.send(out)
                if time.monotonic() - beat > 5.0:
                    beat = time.monotonic()
                    await ws.send(session.heartbeat())
    return _gift_verdict(coverage, seconds)


def _gift_verdict(coverage: Coverage, seconds: float) -> Check:
    seen = f"{coverage.gifts} gift messages"
    if coverage.verdict == "visible":
        return Check("gift visibility", True, f"visible ({seen})")
    if coverage.verdict == "hidden":
        return Check(
            "gift visibility", False, "hidden: fan tickets grow, no gift message", LOGIN_ADVICE
        )
    return Check("gift visibility", None, f"undecided after {seconds:g} s ({seen}, no growth seen)")


def check_users(v: _Visit) -> Check:
    """Whether Douyin showed this identity real users or masked ones (uid 111111)."""
    if v.watched is None:
        raise _Skip("the room was not watched")
    cov = v.watched.coverage
    if cov.users == "masked":
        detail = (
            f"masked (users_masked): {cov.masked_users} of {cov.user_messages} messages carry"
            " uid 111111 and a X*** nickname; users are told apart by their webcast_uid only"
        )
        return Check("users", False, detail, UNMASK_ADVICE)
    if cov.users == "visible":
        return Check("users", True, f"real uids ({cov.user_messages} messages with a user)")
    return Check("users", None, "undecided (no message with a user seen)")


def check_silence(v: _Visit) -> Check:
    """A push socket that carries only viewer figures while im/fetch shows a live room."""
    w = v.watched
    if w is None:
        raise _Skip("the room was not watched")
    fetched = 0 if v.batch is None else sum(m.method not in HOUSEKEEPING for m in v.batch.messages)
    if w.business:
        return Check("push messages", True, f"{w.business} business messages on the socket")
    if not w.housekeeping:
        return Check("push messages", None, "nothing received while watched")
    if fetched:
        detail = (
            f"silent socket (silent_socket): only {w.housekeeping} viewer-figure messages,"
            f" while im/fetch answered {fetched} business messages"
        )
        return Check("push messages", False, detail, SILENT_ADVICE)
    return Check("push messages", None, "no business message anywhere (a quiet room?)")


async def check_proxy(v: _Visit, proxy: str) -> Check:
    if not proxy:
        return Check("proxy exit", None, "no proxy given (direct connection)")
    resp = await v.client.get(urls.join(v.upstream, "/"), headers=v.headers())
    return Check("proxy exit", True, f"{proxy_label(proxy)} answers (HTTP {resp.status_code})")


def proxy_label(proxy: str) -> str:
    """The proxy without credentials."""
    scheme, _, rest = proxy.partition("://")
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}" if rest else proxy


def _ms_token(v: _Visit) -> str:
    return cookie_pairs(v.cookie).get("msToken") or generate_mstoken()


def _info(v: _Visit) -> RoomInfo:
    if v.info is None:
        raise _Skip("no room info")
    return v.info


def _push_server(v: _Visit) -> str:
    if v.batch is not None and v.batch.push_servers:
        return v.batch.push_servers[0]
    up = v.upstream
    if "douyin.com" in up:
        return urls.DEFAULT_PUSH_BASE
    return up.replace("https://", "wss://").replace("http://", "ws://")


def _with_cookie(v: _Visit) -> RoomInfo:
    info = _info(v)
    uid = info.user_unique_id or "7300000000000000000"
    from dataclasses import replace

    return replace(info, cookie=v.cookie, user_unique_id=uid)


class _Skip(Exception):
    """A check that needs what an earlier, failed check would have found."""


VERIFY_ADVICE = "Douyin wants a captcha: use a logged-in cookie, another exit, or wait"
NOT_FOUND = "check the room (URL, web_rid)"
SIGNING_ADVICE = "try --signing v1 / v2, a logged-in cookie, or another exit"
RISK_ADVICE = "risk control: cool this identity down, use fewer rooms per identity or another exit"
LOGIN_ADVICE = "take a fresh logged-in cookie from a browser (docs/identities.md)"
UNMASK_ADVICE = (
    "Douyin masks users for guests: a logged-in identity (dylive identities add) unmasks them"
    " (docs/real-douyin.md)"
)
SILENT_ADVICE = (
    "Douyin silences sockets without cookies: send the ttwid cookie or use a logged-in"
    " identity; dylive falls back to polling meanwhile (docs/real-douyin.md)"
)


async def diagnose(
    web_rid: str,
    *,
    upstream: str,
    identity: Identity,
    signing: str = "v2",
    watch_seconds: float = 30.0,
    report: Callable[[Check], None] | None = None,
) -> list[Check]:
    """Run every check in order; ``report`` is called with each result as it comes."""
    async with httpx.AsyncClient(
        proxy=identity.proxy, timeout=10.0, trust_env=False, follow_redirects=False
    ) as client:
        v = _Visit(client, upstream.rstrip("/"), identity, web_rid, signing, identity.cookie)
        steps: list[tuple[str, Callable[[], Awaitable[Check]]]] = [
            ("home page", lambda: check_home(v)),
            ("ttwid", lambda: check_ttwid(v)),
            ("room page", lambda: check_page(v)),
            ("web/enter (signed)", lambda: check_enter(v)),
            ("im/fetch", lambda: check_fetch(v)),
            ("push handshake (signed)", lambda: check_push(v)),
            ("ranklist", lambda: check_ranklist(v)),
            ("login", lambda: check_login(v)),
            ("gift visibility", lambda: check_gifts(v, watch_seconds)),
            ("users", lambda: _now(check_users(v))),
            ("push messages", lambda: _now(check_silence(v))),
            ("proxy exit", lambda: check_proxy(v, identity.proxy or "")),
        ]
        out = []
        for name, step in steps:
            result = await _run(name, step)
            out.append(result)
            if report is not None:
                report(result)
        return out


async def _now(check: Check) -> Check:
    return check


async def _run(name: str, step: Callable[[], Awaitable[Check]]) -> Check:
    try:
        return await step()
    except _Skip as exc:
        return Check(name, None, f"skipped ({exc})")
    except (httpx.HTTPError, OSError, websockets.WebSocketException) as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}", "check --upstream / --proxy")
    except Exception as exc:  # a doctor never shows a traceback
        log.debug("doctor: %s failed", name, exc_info=True)
        return Check(name, False, f"{type(exc).__name__}: {exc}")


def summary(checks: list[Check]) -> dict[str, Any]:
    return {
        "passed": sum(c.ok is True for c in checks),
        "failed": sum(c.ok is False for c in checks),
        "skipped": sum(c.ok is None for c in checks),
    }
