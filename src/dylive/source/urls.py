"""URL and query builders for Douyin's web live endpoints (douyin-protocol.md §1, §2, §5).

Parameters are kept in the exact order the browser sends them: signatures hash the raw query.

- :func:`page_url` — the room page ``{upstream}/<web_rid>``.
- :func:`enter_params` / :func:`enter_url` — ``/webcast/room/web/enter/``.
- :func:`fetch_params` / :func:`fetch_url` — ``/webcast/im/fetch/`` (polling, first push info).
- :func:`push_params` / :func:`push_url` — ``/webcast/im/push/v2/`` with our own ``signature``.
- :func:`encode_query` — ``key=value&…`` with percent-encoding (spaces as ``%20`` or ``+``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

from dylive import settings
from dylive.wire.signing import sign_push

PUSH_PATH = "/webcast/im/push/v2/"
FETCH_PATH = "/webcast/im/fetch/"
ENTER_PATH = "/webcast/room/web/enter/"
#: Push host for the real Douyin when neither im/fetch nor DYLIVE_PUSH_URL names one.
DEFAULT_PUSH_BASE = "wss://webcast100-ws-web-lq.douyin.com"
VERSION_CODE = "180800"
#: The default ``webcast_sdk_version``; the effective one is the ``sdk_version`` setting.
SDK_VERSION = settings.DEFAULT_SDK_VERSION
#: Origin of the live pages: the push handshake's ``Origin`` header and ``host`` parameter.
LIVE_ORIGIN = "https://live.douyin.com"
AID = "6383"
SCREEN = (1920, 1080)
#: Characters encodeURIComponent leaves alone (besides letters, digits and ``-_.~``).
_SAFE = "!*'()"


def browser_version(user_agent: str) -> str:
    """``browser_version``: the UA without its leading ``Mozilla/``."""
    return user_agent.removeprefix("Mozilla/")


def encode_query(params: Mapping[str, str], *, plus_spaces: bool = False) -> str:
    """``k=v&…`` in the mapping's order, encoded like encodeURIComponent (``+`` for spaces if
    ``plus_spaces``)."""
    enc: Callable[[str, str], str] = quote_plus if plus_spaces else quote
    return "&".join(f"{quote(k, safe=_SAFE)}={enc(v, _SAFE)}" for k, v in params.items())


def join(base: str, path: str) -> str:
    """``base`` (scheme://host[:port][/prefix]) + ``path``."""
    return base.rstrip("/") + path


def page_url(upstream: str, web_rid: str) -> str:
    return join(upstream, "/" + web_rid)


def _browser(user_agent: str, name: str) -> dict[str, str]:
    return {
        "cookie_enabled": "true",
        "screen_width": str(SCREEN[0]),
        "screen_height": str(SCREEN[1]),
        "browser_language": "zh-CN",
        "browser_platform": "Win32",
        "browser_name": name,
        "browser_version": browser_version(user_agent)
        if name == "Mozilla"
        else chrome_version(user_agent),
    }


def chrome_version(user_agent: str) -> str:
    """``<major>.0.0.0`` of the UA's Chrome/Edge token: ``browser_version`` next to
    ``browser_name=Chrome`` (web/enter, ranklist)."""
    for token in user_agent.split():
        if token.startswith(("Chrome/", "Edg/")):
            return token.split("/", 1)[1].split(".", 1)[0] + ".0.0.0"
    return chrome_version(settings.DEFAULT_USER_AGENT)


def enter_params(web_rid: str, room_id: str, *, user_agent: str, ms_token: str) -> dict[str, str]:
    """web/enter query (SAER/JWW order), without a_bogus."""
    params = {
        "aid": AID,
        "app_name": "douyin_web",
        "live_id": "1",
        "device_platform": "web",
        "language": "zh-CN",
        "enter_from": "web_live",
        **_browser(user_agent, "Chrome"),
        "web_rid": web_rid,
        "room_id_str": room_id,
        "enter_source": "",
        "is_need_double_stream": "false",
        "insert_task_id": "",
        "live_reason": "",
        "msToken": ms_token,
    }
    return params


def enter_url(upstream: str, query: str) -> str:
    return join(upstream, ENTER_PATH) + "?" + query


def fetch_params(
    room_id: str,
    user_unique_id: str,
    *,
    cursor: str,
    internal_ext: str,
    user_agent: str,
    ms_token: str,
) -> dict[str, str]:
    """im/fetch query (JWW/DYC order), without a_bogus."""
    return {
        "resp_content_type": "protobuf",
        "did_rule": "3",
        "device_id": "",
        "app_name": "douyin_web",
        "endpoint": "live_pc",
        "support_wrds": "1",
        "user_unique_id": user_unique_id,
        "identity": "audience",
        "need_persist_msg_count": "15",
        "insert_task_id": "",
        "live_reason": "",
        "room_id": room_id,
        "version_code": VERSION_CODE,
        "last_rtt": "0",
        "live_id": "1",
        "aid": AID,
        "fetch_rule": "1",
        "cursor": cursor,
        "internal_ext": internal_ext,
        "device_platform": "web",
        **_browser(user_agent, "Mozilla"),
        "browser_online": "true",
        "tz_name": "Asia/Shanghai",
        "msToken": ms_token,
    }


def fetch_url(upstream: str, query: str) -> str:
    return join(upstream, FETCH_PATH) + "?" + query


def default_internal_ext(room_id: str, user_unique_id: str, now_ms: int | None = None) -> str:
    """The initial ``internal_ext`` when no im/fetch was done (SAER, ORD, JWW)."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return (
        f"internal_src:dim|wss_push_room_id:{room_id}|wss_push_did:{user_unique_id}"
        f"|first_req_ms:{ms}|fetch_time:{ms}|seq:1|wss_info:0-{ms}-0-0|wrds_v:0"
    )


def push_params(
    room_id: str,
    user_unique_id: str,
    *,
    cursor: str,
    internal_ext: str,
    user_agent: str,
    host: str = LIVE_ORIGIN,
    sdk_version: str = "",
) -> dict[str, str]:
    """Push query parameters in the browser's order (spec §2 table), without ``signature``;
    ``sdk_version`` defaults to the ``sdk_version`` setting (DYLIVE_SDK_VERSION)."""
    sdk = sdk_version or settings.get("sdk_version")
    params = {
        "app_name": "douyin_web",
        "version_code": VERSION_CODE,
        "webcast_sdk_version": sdk,
        "update_version_code": sdk,
        "compress": "gzip",
        "device_platform": "web",
        **_browser(user_agent, "Mozilla"),
        "browser_online": "true",
        "tz_name": "Asia/Shanghai",
        "cursor": cursor,
        "internal_ext": internal_ext,
        "host": host,
        "aid": AID,
        "live_id": "1",
        "did_rule": "3",
        "endpoint": "live_pc",
        "support_wrds": "1",
        "user_unique_id": user_unique_id,
        "im_path": FETCH_PATH,
        "identity": "audience",
        "need_persist_msg_count": "15",
        "insert_task_id": "",
        "live_reason": "",
        "room_id": room_id,
        "heartbeatDuration": "0",
    }
    return params


_WS_SCHEMES = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}


def push_base(push_server: str) -> str:
    """Normalise a push server (host, base URL or full push URL; ``https://`` → ``wss://``,
    ``http://`` → ``ws://``) to ``scheme://host/path``."""
    server = push_server.strip()
    if "://" not in server:
        server = "wss://" + server
    parts = urlsplit(server)
    path = parts.path if "/webcast/im/push" in parts.path else PUSH_PATH
    scheme = _WS_SCHEMES.get(parts.scheme.lower(), "wss")
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def push_headers(upstream: str, web_rid: str) -> dict[str, str]:
    """``Origin`` and ``Referer`` of the push handshake, as the live page sends them."""
    origin = LIVE_ORIGIN if "douyin.com" in upstream or not upstream else upstream.rstrip("/")
    return {"Origin": origin, "Referer": page_url(origin, web_rid) if web_rid else origin + "/"}


def push_url(
    push_server: str,
    params: Mapping[str, str],
    *,
    signer: Callable[[Mapping[str, str]], str] = sign_push,
) -> str:
    """The full push URL: base + query + ``&signature=<sign_push(params)>``."""
    query = encode_query(params) + "&signature=" + quote(signer(params), safe="")
    return push_base(push_server) + "?" + query
