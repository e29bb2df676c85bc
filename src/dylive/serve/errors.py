"""The one JSON envelope ``{code, msg, data}`` for success and every error.

Error codes (``code`` in the body; the HTTP status matches): the :class:`ErrorKind` constants
below, listed in :data:`ALL_ERRORS`, each explained in :data:`MEANING`. The error table of
docs/api.md is generated from them (``python scripts/gen_api_errors.py``; a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response

from dylive.errors import (
    InvalidRoom,
    RoomError,
    RoomLimitReached,
    RoomNotFound,
    RoomNotLive,
    UpstreamError,
)

OK_MSG = "成功"


@dataclass(frozen=True, slots=True)
class ErrorKind:
    code: int
    status: int
    msg: str


MISSING_TOKEN = ErrorKind(40001, 401, "缺少token参数")
BAD_TOKEN = ErrorKind(40002, 401, "token无效或已被吊销")
MISSING_ROOM = ErrorKind(40003, 400, "缺少room_id参数")
BAD_ROOM = ErrorKind(40004, 400, "room_id格式错误")
BAD_PARAM = ErrorKind(40005, 400, "参数错误")
WEBHOOK_TARGET = ErrorKind(40006, 400, "回调地址不允许")
BAD_REQUEST = ErrorKind(40007, 400, "请求格式错误")
ADMIN_KEY = ErrorKind(40101, 401, "管理密钥无效")
ROOM_LIMIT = ErrorKind(40301, 403, "超出房间数量限制")
FEED_LIMIT = ErrorKind(40302, 403, "超出连接数量限制")
ADMIN_DISABLED = ErrorKind(40303, 403, "管理接口未启用")
NOT_FOUND = ErrorKind(40400, 404, "接口不存在")
UNKNOWN_ROOM = ErrorKind(40401, 404, "直播间不存在")
UNKNOWN_SESSION = ErrorKind(40402, 404, "直播场次不存在")
NO_WEBHOOK = ErrorKind(40403, 404, "webhook不存在")
NO_TOKEN = ErrorKind(40404, 404, "token不存在")
METHOD_NOT_ALLOWED = ErrorKind(40405, 405, "请求方法不允许")
ROOM_NOT_LIVE = ErrorKind(40901, 409, "直播间未开播")
REQUEST_TIMEOUT = ErrorKind(40801, 408, "请求超时")
URL_TOO_LONG = ErrorKind(41401, 414, "请求地址过长")
RATE_LIMITED = ErrorKind(42901, 429, "请求过于频繁")
QUOTA_EXCEEDED = ErrorKind(42902, 429, "超出配额")
HEADERS_TOO_LARGE = ErrorKind(43101, 431, "请求头过大")
INTERNAL = ErrorKind(50000, 500, "服务器内部错误")
UPSTREAM = ErrorKind(50201, 502, "上游服务异常")
REPLAY_FAILED = ErrorKind(50202, 502, "回调投递失败")
STORE = ErrorKind(50301, 503, "存储服务异常")
TOO_MANY_CONNECTIONS = ErrorKind(50302, 503, "连接数过多")

ALL_ERRORS = (
    MISSING_TOKEN,
    BAD_TOKEN,
    MISSING_ROOM,
    BAD_ROOM,
    BAD_PARAM,
    WEBHOOK_TARGET,
    BAD_REQUEST,
    ADMIN_KEY,
    ROOM_LIMIT,
    FEED_LIMIT,
    ADMIN_DISABLED,
    NOT_FOUND,
    UNKNOWN_ROOM,
    UNKNOWN_SESSION,
    NO_WEBHOOK,
    NO_TOKEN,
    METHOD_NOT_ALLOWED,
    ROOM_NOT_LIVE,
    REQUEST_TIMEOUT,
    URL_TOO_LONG,
    RATE_LIMITED,
    QUOTA_EXCEEDED,
    HEADERS_TOO_LARGE,
    INTERNAL,
    UPSTREAM,
    REPLAY_FAILED,
    STORE,
    TOO_MANY_CONNECTIONS,
)

#: What each code means to a client, in the words docs/api.md's generated table uses.
MEANING: dict[int, str] = {
    200: "success",
    40001: "no `token` parameter and no `Authorization: Bearer` header",
    40002: "the token is unknown, was revoked or has expired",
    40003: "no `room_id`",
    40004: "`room_id` (or the `{room}` path segment) is not a live URL, web_rid or room_id",
    40005: "a parameter or body field is out of range, not a number or malformed (`count`, "
    "`wait`, `last_event_id`, `top`, `format`; `methods` naming an unknown type; a `cursor` / "
    "`internal_ext` this server did not write; a webhook's fields; a token plan's fields in the "
    "admin API, `data.field` naming the field)",
    40006: "a webhook URL that cannot be used: not http(s), or resolving to a loopback, private "
    "or link-local address (unless the service runs with `--allow-private-webhooks`)",
    40007: "the HTTP request itself is malformed and was refused by the server's HTTP parser (a "
    "NUL or bare CR in a header, raw non-ASCII bytes in the URL — percent-encode them —, "
    "conflicting `Content-Length` / `Transfer-Encoding`, a bad chunk size …); the connection is "
    "closed",
    40101: "an admin route without `Authorization: Bearer` and the admin key",
    40301: "the token already polls as many rooms as its room limit allows",
    40302: "the token already holds 32 WebSocket feeds open (close code 4403)",
    40303: "an admin route, and the service runs without an admin key (`--admin-key` / "
    "`DYLIVE_ADMIN_KEY`)",
    40400: "unknown path (also `/api/fleet` on a node that is not part of a fleet)",
    40401: "Douyin knows no such room, and nothing is stored for it",
    40402: "no broadcast (session) with this id",
    40403: "no webhook (or dead letter) with this id for this token",
    40404: "admin API: no active token with this id or name",
    40405: "wrong HTTP method for the path",
    40801: "the request line and headers did not arrive within 10 s, or the body within 30 s "
    "after them; the connection is closed",
    40901: "the room exists but is not live, and nothing is stored for it",
    41401: "the URL (path and query) is longer than 65,535 bytes",
    42901: "the token's rate limit, or the per-address limit of requests without a valid token; "
    "the `Retry-After` header says when to try again",
    42902: "a quota of the token (requests or messages per day or month) is used up; "
    "`data.reset` and the `Retry-After` header say when it resets",
    43101: "the request headers exceed 16 KiB",
    50000: "an unexpected failure on the server (logged there; no stack trace is sent)",
    50201: "Douyin failed or refused, and nothing is stored for the room",
    50202: "a replayed dead letter was not acknowledged by the webhook's receiver",
    50301: "the database failed",
    50302: "the server already holds its maximum of connections (4,096); the connection is closed",
}


def error_table() -> str:
    """The Markdown table of every code (success first), as docs/api.md shows it."""
    rows = ["| code | HTTP | msg | when |", "|---|---|---|---|"]
    rows.append(f"| 200 | 200 | {OK_MSG} | {MEANING[200]} |")
    for kind in sorted(ALL_ERRORS, key=lambda k: k.code):
        rows.append(f"| {kind.code} | {kind.status} | {kind.msg} | {MEANING[kind.code]} |")
    return "\n".join(rows) + "\n"


class ApiError(Exception):
    """Raised by handlers; rendered as the envelope with ``kind``'s code, status and msg.
    ``data``: more fields of the envelope's ``data`` beside ``detail``."""

    def __init__(
        self,
        kind: ErrorKind,
        detail: str = "",
        *,
        retry_after: float | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or kind.msg)
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after
        self.data = data


#: Collection's domain errors the endpoints answer with an envelope code (see :func:`api_error`).
COLLECTION_ERRORS = (RoomError, RoomLimitReached, UpstreamError)


def api_error(exc: RoomError | RoomLimitReached | UpstreamError) -> ApiError:
    """The envelope error of a collection (domain) error, its message as the detail."""
    if isinstance(exc, InvalidRoom):
        kind = BAD_ROOM
    elif isinstance(exc, RoomNotLive):
        kind = ROOM_NOT_LIVE
    elif isinstance(exc, RoomNotFound | RoomError):
        kind = UNKNOWN_ROOM
    elif isinstance(exc, RoomLimitReached):
        kind = ROOM_LIMIT
    else:
        kind = UPSTREAM
    return ApiError(kind, str(exc))


class JSONBytes(Response):
    """A 200 ``application/json`` response of ready bytes: the same response as
    ``Response(body, media_type="application/json")``, its headers built directly."""

    media_type = "application/json"

    def __init__(self, body: bytes) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
        ]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """orjson-serialized response (big integers written exactly)."""
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def ok(data: Any) -> Response:
    return json_response({"code": 200, "msg": OK_MSG, "data": data})


#: Error details echo input (a room_id, a cursor): never more than this many characters of it.
DETAIL_MAX = 100


def truncate(text: str, limit: int = DETAIL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: the longest ``Retry-After`` sent, in seconds (10 years): a token's rate may be as small as a
#: float goes (5e-324 requests/s: the wait for its next request is infinite)
MAX_RETRY_AFTER = 10 * 365 * 86400


def error_response(err: ApiError, headers: dict[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    if err.retry_after is not None:
        wait = err.retry_after if err.retry_after < MAX_RETRY_AFTER else MAX_RETRY_AFTER  # inf, nan
        headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    return json_response(envelope(err), err.kind.status, headers)


def envelope(err: ApiError) -> dict[str, Any]:
    """The error envelope of ``err`` (also the SSE ``error`` event and the feeds' error frame)."""
    data: dict[str, Any] = {}
    if err.detail:
        data["detail"] = truncate(err.detail)
    if err.data:
        data.update(err.data)
    return {"code": err.kind.code, "msg": err.kind.msg, "data": data}
