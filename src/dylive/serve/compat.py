"""The vendor-compatible endpoints: ``GET /douyin/liveroom/chat`` and ``/douyin/liveroom/audience``.

Reference: docs/api.md. Additive query parameters of the chat endpoint:
``cursor`` / ``internal_ext`` (echo the last response's value to continue after it), ``count``
(page size, 1..500, default 50), ``methods`` (comma-separated method names or short names such
as ``chat,gift``; ``all`` for every method), ``wait`` (long-poll up to N seconds, max 30).
Without a cursor the server continues from where this token last read this room; the first
call returns the recent backlog (the latest ``count`` messages). Cursor-less reads of one
(token, room) are serialized in a process and move the stored position by compare-and-set
across processes (concurrent pollers share the stream, on one node or several: each message is
delivered to one of them, exactly once); ``HEAD`` never moves a position.
"""

from __future__ import annotations

import logging
import time
from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dylive.collect.broadcasts import carried_position, room_after
from dylive.identity.source import coverage_of
from dylive.source.room import parse_ident
from dylive.store import JoinedPage
from dylive.store.cursor import (
    make_cursor,
    make_internal_ext,
)

from . import collection
from .errors import JSONBytes, ok
from .params import (
    float_param,
    int_param,
    methods_param,
    position,
    room_param,
)
from .query import QUERY_KEY, query_of, query_of_scope

if TYPE_CHECKING:
    from .app import HttpService as Service

#: Cursor-less reads retried after losing the position to another poller (see ``_continue``).
CLAIM_ATTEMPTS = 8
log = logging.getLogger(__name__)

_HEAD = b'{"code":200,"msg":"' + "成功".encode() + b'","data":{"messages":['


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def chat_body(
    page: JoinedPage,
    *,
    last_msg_id: int,
    now: int,
    start: int,
    interval: int,
    coverage: dict[str, Any] | None = None,
) -> bytes:
    """The response bytes: stored rendered JSON spliced in (no re-serialization).
    ``coverage`` (additive): gift visibility and degradations of the collected room."""
    cursor = make_cursor(now, last_msg_id, page.last_seq)
    fields: dict[str, Any] = {
        "cursor": cursor,
        "fetch_interval": interval,
        "now": now,
        "internal_ext": make_internal_ext(now, start, cursor, page.last_seq),
        "ignores": page.ignored,
    }
    if coverage is not None:
        fields["coverage"] = coverage
    tail = orjson.dumps(fields)
    return b"".join((_HEAD, page.body, b"],", tail[1:], b"}"))


async def _read(
    svc: Service, room_id: int, after: int, count: int, methods: frozenset[str] | None, wait: float
) -> JoinedPage:
    page = await svc.store.read_joined(room_id, after, count, methods)
    if page.size or wait <= 0:
        return page
    deadline = time.monotonic() + wait
    ignored = dict.fromkeys(page.ignored)  # every page's skipped methods, first seen first
    while not page.size and (remaining := deadline - time.monotonic()) > 0:
        if not await svc.commits.wait(room_id, page.last_seq, remaining):
            break
        page = await svc.store.read_joined(room_id, page.last_seq, count, methods)
        ignored.update(dict.fromkeys(page.ignored))
    if not ignored:
        return page  # nothing skipped (the common case): no copy of the page
    return page._replace(ignored=tuple(ignored))


async def _continue(
    svc: Service,
    token_id: int,
    chain: Sequence[int],
    count: int,
    methods: frozenset[str] | None,
    wait: float,
    moves: bool,
) -> JoinedPage:
    """The next page after the token's stored position, the position moved past it by a
    compare-and-set: a poller of the same token on another process (a fleet node) that claimed
    the same messages first wins, and this one reads on from where that one stopped, so each
    message reaches one poller once. After ``CLAIM_ATTEMPTS`` lost races: an empty page.

    ``chain`` is the anchor's broadcasts, oldest first, the current one last (only the current
    one unless the room was named by web_rid): the position is kept under the current broadcast;
    a token that has none there continues from its position in an earlier one, and the page
    comes from the oldest broadcast with messages after the position (collect/broadcasts.py)."""
    room_id = chain[-1]
    deadline = time.monotonic() + wait
    after = 0
    for _ in range(CLAIM_ATTEMPTS):
        stored = await svc.store.get_position(token_id, room_id)
        if stored is None and len(chain) > 1:
            stored = await carried_position(svc.store, token_id, chain)
        if stored is None:
            after = await svc.store.backlog_start(room_id, count, methods)
        else:
            after = stored
        remaining = max(0.0, deadline - time.monotonic())
        source = room_id if len(chain) == 1 else await room_after(svc.store, chain, after)
        page = await _read(svc, source, after, count, methods, remaining)
        if not moves or (stored is not None and page.last_seq == after):
            return page  # nothing to claim
        if await svc.store.claim_position(token_id, room_id, after, page.last_seq):
            return page
        log.debug("token %s room %s: position moved elsewhere; reading on", token_id, room_id)
    return JoinedPage(0, b"", after)


#: whether a ``room_id`` text names a web_rid (``parse_ident``), per text (pollers send the
#: same one on every request), bounded
_WEB_RID_NAMED: dict[str, bool] = {}
_WEB_RID_NAMED_KEPT = 4096


def _names_web_rid(ident: str) -> bool:
    named = _WEB_RID_NAMED.get(ident)
    if named is None:
        named = bool(parse_ident(ident)[0])
        if len(ident) <= 256:
            if len(_WEB_RID_NAMED) >= _WEB_RID_NAMED_KEPT:
                _WEB_RID_NAMED.clear()
            _WEB_RID_NAMED[ident] = named
    return named


#: queries kept by :func:`_query` (per service: its limits are in the parsed values)
CHAT_QUERIES_KEPT = 4096
ChatParams = tuple[str, int, float, frozenset[str] | None]  # room, count, wait, methods


def _query(
    svc: Service, scope: MutableMapping[str, Any]
) -> tuple[dict[str, str], ChatParams | None, bytes | None]:
    """The request's query parameters, and its chat parameters when this query but for its
    cursor was parsed before (a poller sends the same query with the last cursor each time):
    ``(q, parsed, None)``; else ``(q, None, key)`` with the key to keep them under (None when
    the query is not one to keep: no single plain ``cursor``, or escapes)."""
    raw: bytes = scope.get("query_string", b"")
    at = raw.find(b"cursor=")
    if (
        at < 0
        or raw.count(b"cursor") != 1
        or b"%" in raw
        or b"+" in raw
        or (at and raw[at - 1] != 38)
    ):
        return query_of_scope(scope), None, None
    end = raw.find(b"&", at)
    key = raw[:at] + raw[end:] if end >= 0 else raw[:at]
    hit = svc.chat_queries.get(key)
    if hit is None:
        return query_of_scope(scope), None, key
    rest, parsed = hit
    q = rest.copy()
    q["cursor"] = (raw[at + 7 : end] if end >= 0 else raw[at + 7 :]).decode("latin-1")
    scope[QUERY_KEY] = q  # what query_of() returns for this request (authorize)
    return q, parsed, None


async def chat(request: Request, *, svc: Service) -> Response:
    """``svc``: the service, bound by the app factory (no app-state lookup per request)."""
    q, parsed, key = _query(svc, request.scope)
    token = await svc.authorize(request)
    if parsed is None:
        config = svc.config
        ident = room_param(q)
        count = int_param(q, "count", config.page_size, 1, config.max_page)
        wait = float_param(q, "wait", 0.0, config.max_wait)
        methods = methods_param(q)
        if key is not None:  # parsed once for the next requests of this query
            if len(svc.chat_queries) >= CHAT_QUERIES_KEPT:
                svc.chat_queries.clear()
            rest = {name: value for name, value in q.items() if name != "cursor"}
            svc.chat_queries[key] = (rest, (ident, count, wait, methods))
    else:
        ident, count, wait, methods = parsed
    if token.quota:  # a page never goes past the token's message quota
        left = svc.quotas.messages_left(token)
        count = count if left is None else max(1, min(count, left))
    given = position(q)
    info, live = await collection.lookup(svc, ident)
    collection.touch(svc, token.id, token.room_limit, info, live)
    moves = request.method != "HEAD"  # a HEAD request never moves a position
    wait = wait if live else 0.0
    # a web_rid names the anchor: positions continue across its broadcasts (collect/broadcasts)
    chain: Sequence[int] = (info.room_id,)
    if info.web_rid and _names_web_rid(ident):
        cached = svc.chains.fresh(info.web_rid, info.room_id)
        if cached is not None:
            chain = cached
        else:
            chain = await svc.chains.chain(svc.store, info.web_rid, info.room_id)
    if given is None:  # continue from the token's position: one poller at a time here
        async with svc.position_lock(token.id, info.room_id):
            page = await _continue(svc, token.id, chain, count, methods, wait, moves)
    else:
        room_id = chain[0] if len(chain) == 1 else await room_after(svc.store, chain, given.seq)
        page = await _read(svc, room_id, given.seq, count, methods, wait)
        if page.last_seq > given.seq and moves:
            await svc.store.set_position(token.id, info.room_id, page.last_seq, wait=False)
    # nothing new: the cursor keeps the msg_id it was given
    given_msg_id = given.msg_id if given is not None else 0
    last_msg_id = page.last_msg_id if page.size else given_msg_id
    svc.metrics.on_delivered(page.size)
    request.scope["dylive.messages"] = page.size  # metered as messages delivered (guarded)
    interval = 0 if page.size >= count else svc.config.fetch_interval
    state = svc.rooms.rooms.get(info.room_id)
    body = chat_body(
        page,
        last_msg_id=last_msg_id,
        now=now_ms(),
        start=svc.started_ms,
        interval=interval,
        coverage=coverage_of(state.source) if state is not None else None,
    )
    return JSONBytes(body)


async def audience(request: Request) -> Response:
    svc: Service = request.app.state.svc
    token = await svc.authorize(request)
    ident = room_param(query_of(request))
    info, live = await collection.lookup(svc, ident)
    collection.touch(svc, token.id, token.room_limit, info, live)
    data, source = await svc.audience.ranking(info)
    return ok({"data": data, "source": source})
