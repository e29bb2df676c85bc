"""The one JSON envelope ``{code, msg, data}`` for success and every error.

Error codes (``code`` in the body; the HTTP status matches):

==========  ======  ==========================  ==============================================
code        HTTP    msg                         meaning
==========  ======  ==========================  ==============================================
200         200     成功                         success
40001       401     缺少token参数                 no ``token`` (query) / Bearer header
40002       401     token无效或已被吊销            unknown or revoked token
40003       400     缺少room_id参数               no ``room_id``
40004       400     room_id格式错误               not a web_rid, room_id or live.douyin.com URL
40005       400     参数错误                      bad ``count`` / ``wait`` / ``methods`` /
                                                ``cursor`` / ``internal_ext``
40006       400     回调地址不允许                 webhook URL unusable, or resolving to a loopback/
                                                private/link-local address (SSRF guard)
40007       400     请求格式错误                  the HTTP request is malformed (refused by the
                                                HTTP parser: a NUL in a header, raw non-ASCII
                                                in the target, smuggling shapes …)
40101       401     管理密钥无效                   admin route without ``Authorization: Bearer``
                                                carrying the admin key, or with another key
40301       403     超出房间数量限制               the token's room limit is reached
40302       403     超出连接数量限制               the token's limit of open WebSocket feeds
40303       403     管理接口未启用                 admin route while the service has no admin key
40400       404     接口不存在                    unknown path
40401       404     直播间不存在                  upstream knows no such room
40402       404     直播场次不存在                no such session (broadcast) id
40403       404     webhook不存在                 no such webhook (or dead letter) for this token
40404       404     token不存在                   admin API: no active token with this id or name
40405       405     请求方法不允许                 wrong HTTP method
40801       408     请求超时                      the request's headers or body did not arrive in
                                                time (header / body timeout)
40901       409     直播间未开播                  the room exists but is not live (and we have
                                                nothing stored for it)
41401       414     请求地址过长                  the request target is over 65,535 bytes
42901       429     请求过于频繁                  per-token rate limit, or per client address for
                                                requests without a valid token; ``Retry-After``
42902       429     超出配额                      a quota of the token (requests or messages per
                                                day or month) is used up; ``data.reset`` and
                                                ``Retry-After`` say when it resets
43101       431     请求头过大                    request headers over 16 KiB
50000       500     服务器内部错误                 unexpected failure (logged, no stack trace)
50201       502     上游服务异常                  Douyin / the upstream failed or refused
50202       502     回调投递失败                  a dead-letter replay was not acknowledged
50301       503     存储服务异常                  the store failed
50302       503     连接数过多                    the server holds its maximum of connections
==========  ======  ==========================  ==============================================
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
    ROOM_LIMIT,
    FEED_LIMIT,
    ADMIN_KEY,
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


def error_response(err: ApiError, headers: dict[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    if err.retry_after is not None:
        headers["Retry-After"] = str(max(1, int(err.retry_after + 0.999)))
    data: dict[str, Any] = {}
    if err.detail:
        data["detail"] = truncate(err.detail)
    if err.data:
        data.update(err.data)
    body = {"code": err.kind.code, "msg": err.kind.msg, "data": data}
    return json_response(body, err.kind.status, headers)
