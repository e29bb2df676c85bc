"""The hand-written OpenAPI 3.1 document of every route (``GET /openapi.json``; ``/docs`` shows it).

The schema-driven fuzz test (tests/serve/test_fuzz_http.py) sends generated and junk parameters to
every operation described here, so the document is also what keeps the routes honest.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ALL_ERRORS, OK_MSG

#: A room identifier: a web_rid or room_id (ASCII digits, within signed 64 bits), or a live URL
#: whose last path segment is one.
ROOM_PATTERN = r"^(?:[0-9]{1,19}|\S+/[0-9]{1,19}/?(?:[?#]\S*)?)$"
CURSOR_PATTERN = r"^[0-9]{1,20}_[0-9]{1,20}_[0-9]{1,20}_[0-9]{1,20}$"


def _param(
    name: str,
    desc: str,
    *,
    required: bool = False,
    where: str = "query",
    kind: str = "string",
    **schema: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required,
        "description": desc,
        "schema": {"type": kind, **schema},
    }


def _declare_path_params(paths: dict[str, Any]) -> dict[str, Any]:
    """Every ``{name}`` of a path declared as a required path parameter of each operation."""
    for path, ops in paths.items():
        names = re.findall(r"{(\w+)}", path)
        for spec in ops.values():
            params = spec.setdefault("parameters", [])
            have = {p["name"] for p in params if p["in"] == "path"}
            missing = [
                _PATH_ROOM if n == "room" else _param(n, n, required=True, where="path")
                for n in names
                if n not in have
            ]
            spec["parameters"] = [*missing, *params]
    return paths


_TOKEN = _param("token", "API token (接口授权码); or `Authorization: Bearer`", required=True)
_ROOM_DESC = "web_rid, internal room_id or live.douyin.com URL"
_ROOM = _param("room_id", _ROOM_DESC, required=True, pattern=ROOM_PATTERN, maxLength=300)
_PATH_ROOM = _param(
    "room", _ROOM_DESC, required=True, where="path", pattern=ROOM_PATTERN, maxLength=300
)
_METHODS = _param("methods", "comma-separated methods or short names; `all`", maxLength=2000)


def _page(summary: str) -> dict[str, Any]:
    html_page = {
        "description": "HTML page",
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
    return {"get": {"summary": summary, "responses": {"200": html_page}}}


def openapi_document() -> dict[str, Any]:
    errors = {
        str(k.status): {"description": f"code {k.code}: {k.msg}"}
        for k in sorted(ALL_ERRORS, key=lambda k: k.status)
    }
    envelope = {
        "type": "object",
        "required": ["code", "msg", "data"],
        "properties": {
            "code": {"type": "integer", "description": f"200 = {OK_MSG}; else an error code"},
            "msg": {"type": "string"},
            "data": {"type": "object"},
        },
    }
    ok_resp = {"description": "success", "content": {"application/json": {"schema": envelope}}}

    def op(summary: str, params: list[dict[str, Any]], verb: str = "get") -> dict[str, Any]:
        return {
            verb: {
                "summary": summary,
                "parameters": params,
                "responses": {"200": ok_resp, **errors},
            }
        }

    pin = op("Pin a room (collect without polling)", [_PATH_ROOM, _TOKEN], "post")
    pin.update(op("Unpin a room", [_PATH_ROOM, _TOKEN], "delete"))
    return {
        "openapi": "3.1.0",
        "info": {"title": "dylive API", "version": "1.0", "description": "Douyin live room data."},
        "paths": _declare_path_params(
            {
                "/douyin/liveroom/chat": op(
                    "Real-time chat and gift messages (实时弹幕和礼物信息)",
                    [
                        _TOKEN,
                        _ROOM,
                        _param(
                            "cursor",
                            "continue after this cursor (from the last response)",
                            pattern=CURSOR_PATTERN,
                        ),
                        _param("internal_ext", "continue after this internal_ext", maxLength=2000),
                        {
                            **_param("count", "page size 1..500 (default 50)"),
                            "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                        },
                        _METHODS,
                        {
                            **_param("wait", "long-poll up to N seconds (max 30)"),
                            "schema": {"type": "number", "minimum": 0, "maximum": 30},
                        },
                    ],
                ),
                "/douyin/liveroom/audience": op(
                    "Audience gift ranking and user levels (音浪榜); data.source = upstream|ledger",
                    [_TOKEN, _ROOM],
                ),
                "/healthz": op(
                    "Health: ok, or degraded with reasons (200); unhealthy with reasons (503) "
                    "when the store does not answer in time",
                    [],
                ),
                "/api/rooms": op("Status of every collected room", [_TOKEN]),
                "/api/rooms/{room}": op("One room's status", [_PATH_ROOM, _TOKEN]),
                "/api/rooms/{room}/pin": pin,
                "/api/rooms/{room}/stream": {
                    "get": {
                        "summary": "Live stream of stored messages (Server-Sent Events), resumable",
                        "parameters": [
                            _PATH_ROOM,
                            _TOKEN,
                            _METHODS,
                            _param(
                                "last_event_id",
                                "resume after this event id (or the Last-Event-ID header)",
                                pattern="^[0-9]{1,19}$",
                            ),
                        ],
                        "responses": {
                            "200": {
                                "description": "text/event-stream: `message` events (id = seq,"
                                " data = the stored JSON) and `status` events",
                                "content": {"text/event-stream": {"schema": {"type": "string"}}},
                            },
                            **errors,
                        },
                    }
                },
                "/dashboard": {
                    "get": {
                        "summary": "The live web dashboard (HTML; ?room=&token= in the page URL)",
                        "responses": {
                            "200": {
                                "description": "HTML page",
                                "content": {"text/html": {"schema": {"type": "string"}}},
                            }
                        },
                    }
                },
                "/api/rooms/{room}/sessions": op(
                    "Broadcasts (sessions) of a room, newest first: {sessions: [{id, room_id,"
                    " web_rid, title, anchor, started_at, ended_at|null, live, duration_seconds}]}",
                    [_TOKEN],
                ),
                "/api/sessions/{id}/report": op(
                    "Session report: messages per method, gifts and their value (抖币, 音浪, yuan),"
                    " top gifters, likes, chatters, follows, shares, fans-club joins, viewers,"
                    " per-minute series, collection figures, reconciliation with Douyin's ranking",
                    [
                        _TOKEN,
                        _param("top", "gifters listed, 0..10000 (default 100)", kind="integer"),
                        _param("format", "json (default, the envelope), md or csv (text)"),
                    ],
                ),
                **delivery_paths(ok_resp, errors),
                **usage_paths(ok_resp, errors),
                "/metrics": {
                    "get": {
                        "summary": "Prometheus metrics",
                        "responses": {"200": {"description": "text"}},
                    }
                },
                "/api/fleet": op(
                    "The nodes of a fleet (PostgreSQL) and this node's own view; 40400 elsewhere",
                    [_TOKEN],
                ),
                "/report": _page(
                    "One broadcast's report page (HTML; ?session=ID&token= in the URL)"
                ),
                "/usage": _page(
                    "A token's usage page: requests per day and quota bars (HTML; ?token=&days=)"
                ),
                "/": _page("Redirects to /dashboard (keeping the query string)"),
                "/openapi.json": {
                    "get": {
                        "summary": "This OpenAPI document",
                        "responses": {"200": {"description": "JSON"}},
                    }
                },
                "/docs": _page("This API's OpenAPI UI (Swagger UI) and error codes (HTML)"),
            }
        ),
    }


_HOOK_BODY = {
    "type": "object",
    "required": ["url", "rooms"],
    "properties": {
        "url": {"type": "string", "description": "http(s) URL receiving signed POSTs"},
        "secret": {
            "type": "string",
            "description": "16-256 chars (whsec_<base64 of 24-64 bytes>: the Standard Webhooks"
            " key); omitted = generated, returned once",
        },
        "rooms": {"type": "array", "items": {"type": "string"}, "description": "1-100 rooms"},
        "methods": {"type": "array", "items": {"type": "string"}, "description": "filter"},
        "batch_size": {"type": "integer", "description": "messages per POST, 1-1000 (100)"},
        "batch_ms": {"type": "integer", "description": "wait to fill a batch, 0-60000 (100)"},
    },
}


def _operation(
    summary: str,
    params: list[dict[str, Any]],
    ok_resp: dict[str, Any],
    errors: dict[str, Any],
    body: Any = None,
) -> dict[str, Any]:
    """One operation: its summary, parameters, the envelope answers and an optional JSON body."""
    spec: dict[str, Any] = {
        "summary": summary,
        "parameters": params,
        "responses": {"200": ok_resp, **errors},
    }
    if body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return spec


def delivery_paths(ok_resp: dict[str, Any], errors: dict[str, Any]) -> dict[str, Any]:
    """Webhooks and the WebSocket feeds (see dylive.serve.webhooks_api and feed_api)."""

    def verb(summary: str, params: list[dict[str, Any]], body: Any = None) -> dict[str, Any]:
        return _operation(summary, params, ok_resp, errors, body)

    ws = {"101": {"description": "WebSocket: JSON text frames (see docs/delivery.md)"}}
    return {
        "/api/webhooks": {
            "get": verb("This token's webhooks: state, lag, counters, last error", [_TOKEN]),
            "post": verb(
                "Register a webhook (signed, batched, at-least-once)", [_TOKEN], _HOOK_BODY
            ),
        },
        "/api/webhooks/{id}": {
            "get": verb("One webhook with its dead letters", [_TOKEN]),
            "delete": verb("Remove a webhook (positions and dead letters too)", [_TOKEN]),
        },
        "/api/webhooks/{id}/pause": {"post": verb("Pause a webhook", [_TOKEN])},
        "/api/webhooks/{id}/resume": {"post": verb("Resume a paused webhook", [_TOKEN])},
        "/api/webhooks/{id}/dead-letters/{letter}/replay": {
            "post": verb("Send a dead letter again (deleted once acknowledged)", [_TOKEN])
        },
        "/api/webhooks/{id}/rotate-secret": {
            "post": verb("New secret; the old one also signs for grace_seconds (86400)", [_TOKEN])
        },
        "/api/rooms/{room}/ws": {
            "get": {
                "summary": "WebSocket feed of a room, resumable from a cursor",
                "parameters": [
                    _param("token", "API token; or Sec-WebSocket-Protocol `bearer.<token>`"),
                    _param("cursor", "continue after this cursor (a chat or feed cursor)"),
                    _param("count", "latest messages to send first (default 0)", kind="integer"),
                    _param("methods", "as the chat endpoint; `all` for every method"),
                ],
                "responses": ws,
            }
        },
        "/ws/{live_id}": {
            "get": {
                "summary": "douyinLive-compatible WebSocket feed (protojson frames)",
                "parameters": [_param("token", "API token (or the service's --douyinlive-token)")],
                "responses": ws,
            }
        },
    }


_ADMIN = {
    "name": "Authorization",
    "in": "header",
    "required": True,
    "description": "Bearer <the admin key of dylive serve --admin-key / DYLIVE_ADMIN_KEY>",
    "schema": {"type": "string", "maxLength": 1000},
}
_RANGE = [
    _param("from", "first day YYYY-MM-DD or an ISO time (UTC)", maxLength=40),
    _param("to", "last day YYYY-MM-DD (included) or an ISO time (excluded)", maxLength=40),
    _param("granularity", "day (default) or hour", enum=["day", "hour"]),
]
_TOKEN_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "description": "1-64 characters, unique among active"},
    "room_limit": {
        "type": ["integer", "null"],
        "description": "rooms at a time; 0 = no limit; null = DYLIVE_ROOM_LIMIT",
    },
    "rate": {"type": "number", "description": "requests/s; 0 = no limit"},
    "quota": {
        "type": "object",
        "description": "requests_per_day, requests_per_month, messages_per_day,"
        " messages_per_month (integers), requests_per_second; 0 = no limit",
    },
    "expires_at": {
        "type": ["string", "number", "null"],
        "description": "ISO time or epoch s, at most 10 years ahead; null = never",
    },
    "expires_in": {
        "type": ["number", "null"],
        "description": "seconds from now, more than 0, at most 10 years; null = never",
    },
}
_TOKEN_BODY = {"type": "object", "required": ["name"], "properties": _TOKEN_FIELDS}

#: a change: the same fields, each optional (those given replace the token's; quota field by
#: field; expires_at null = never, room_limit null = the DYLIVE_ROOM_LIMIT setting)
_TOKEN_CHANGE = {
    "type": "object",
    "properties": _TOKEN_FIELDS,
    "additionalProperties": False,
}


def usage_paths(ok_resp: dict[str, Any], errors: dict[str, Any]) -> dict[str, Any]:
    """The usage endpoint and the admin API (see dylive.serve.usage_api and admin_api)."""

    def verb(summary: str, params: list[dict[str, Any]], body: Any = None) -> dict[str, Any]:
        return _operation(summary, params, ok_resp, errors, body)

    return {
        "/api/usage": {
            "get": verb("This token's usage per day or hour, and its quotas", [_TOKEN, *_RANGE])
        },
        "/api/admin/tokens": {
            "get": verb("Admin: every token with its quota and usage", [_ADMIN]),
            "post": verb(
                "Admin: create a token (data.token: the secret, shown once)", [_ADMIN], _TOKEN_BODY
            ),
        },
        "/api/admin/tokens/{token}": {
            "patch": verb(
                "Admin: change the plan of the active token with this id or name (same secret)",
                [_ADMIN],
                _TOKEN_CHANGE,
            ),
            "delete": verb("Admin: revoke the active token with this id or name", [_ADMIN]),
        },
        "/api/admin/usage": {
            "get": verb(
                "Admin: usage of every token (or one: token = name or id)",
                [_ADMIN, _param("token", "a token's name or id", maxLength=64), *_RANGE],
            )
        },
        "/api/admin/audit": {
            "get": verb(
                "Admin: the audit log, newest first",
                [
                    _ADMIN,
                    _param("limit", "1-1000 (default 100)", kind="integer"),
                    _param("before", "an entry id: older entries", kind="integer"),
                ],
            )
        },
    }
