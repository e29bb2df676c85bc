"""The HTTP edge: uvicorn's protocol classes with dylive's limits, answering in the envelope.

uvicorn refuses what its HTTP parser cannot read (an over-long URL, raw UTF-8 in the request
target, a NUL in a header, request-smuggling shapes) before the application sees the request,
with a plain-text ``400``. These subclasses of its httptools and h11 protocols answer those
refusals with the JSON envelope instead (code 40007, 41401 or 43101), and add the limits a
server exposed to the internet needs in front of the application:

- ``header_timeout``: a request's line and headers must arrive within this many seconds (from
  the connection, or from the previous response); else 40801 (HTTP 408) and the connection is
  closed (slow-header clients cannot hold connections open).
- ``body_timeout``: the body must arrive within this many seconds after the headers; else the
  application sees a disconnect, the client gets 40801 when nothing was answered yet, and the
  connection is closed.
- ``max_connections``: connections beyond it (WebSocket feeds included) are answered 50302
  (HTTP 503) and closed at once.
- ``MAX_URL_BYTES``: a request target longer than 64 KiB - 1 is answered 41401 (HTTP 414) on both
  stacks (httptools' URL parser cannot represent longer ones).

A response goes out in one write: uvicorn writes the head when the application starts the response
and the body when it sends it; the edge holds the head until the body's first write (or the end
of the event loop's current step, for a response whose body comes later or never, such as a
``HEAD``) and writes both together (:class:`OneWrite`): one ``send`` and one TCP segment instead of
two for every small response (a long-poll chat page). On the httptools stack a request's scope
also carries ``dylive.respond`` (:func:`respond`): the application's direct routes hand it a whole
response (status, headers, body), which goes out as uvicorn's ``send`` would write it, in one
write, without the two ASGI messages. These fast paths repeat uvicorn's code, so they are used
only with a uvicorn whose code is a version they were checked against (:mod:`.edgecheck`,
checked once at start; else uvicorn's own methods and a log line).

The WebSocket protocol (:func:`.edgews.websocket_protocol`) answers a refused upgrade (a bad
``Sec-WebSocket-Version``, a header line over 8 KiB, over 128 headers) in the envelope too, and
closes a WebSocket whose client sent a text frame that is not UTF-8 with 1007 and one log line
(uvicorn logs a traceback there).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson

from .edgecheck import fast_paths
from .edgeio import Deadline, OneWrite, Responder
from .edgestart import headers_complete, start_eager
from .errors import (
    BAD_REQUEST,
    HEADERS_TOO_LARGE,
    REQUEST_TIMEOUT,
    TOO_MANY_CONNECTIONS,
    URL_TOO_LONG,
    ErrorKind,
    truncate,
)

log = logging.getLogger(__name__)

#: The longest request target (path and query) accepted, in bytes.
MAX_URL_BYTES = 65_535

_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 414: b"URI Too Long"}
_REASONS |= {431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    """The edge's limits (see the module doc)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 4096


_QUOTED = re.compile(r":?\s*(bytearray\()?b['\"].*$", re.DOTALL)


class UrlTooLong(Exception):
    """Raised from the parser's URL callback: the request target is over MAX_URL_BYTES."""


def refusal(kind: ErrorKind, detail: str = "") -> bytes:
    """A complete HTTP/1.1 response: the envelope of ``kind``, ``connection: close``."""
    data = {"detail": truncate(detail)} if detail else {}
    body = orjson.dumps({"code": kind.code, "msg": kind.msg, "data": data})
    head = b"HTTP/1.1 %d %s\r\n" % (kind.status, _REASONS.get(kind.status, b""))
    head += b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body)
    return head + b"connection: close\r\n\r\n" + body


def classify(exc: BaseException | None) -> tuple[ErrorKind, str]:
    """The envelope (kind, detail) for a parser's refusal ``exc``."""
    causes: list[BaseException] = []
    while exc is not None and exc not in causes:
        causes.append(exc)
        exc = exc.__cause__ or exc.__context__
    for cause in causes:
        if isinstance(cause, UrlTooLong):
            return URL_TOO_LONG, f"the request target is longer than {MAX_URL_BYTES} bytes"
        if isinstance(cause, UnicodeError):
            return BAD_REQUEST, "the request target must be ASCII (percent-encode other bytes)"
        if getattr(cause, "error_status_hint", 400) == 431:  # h11: the head is too large
            return HEADERS_TOO_LARGE, "the request line and headers are too large"
        if type(cause).__name__ == "HttpParserInvalidURLError":
            return BAD_REQUEST, "the request target is not a valid URL (percent-encode non-ASCII)"
    # the parser's own words, without the request bytes h11 quotes after them
    text = _QUOTED.sub("", str(causes[0])) if causes else ""
    return BAD_REQUEST, f"the HTTP request is malformed: {text}" if text else "malformed request"


class _Edge:
    """The limits, shared by both HTTP protocol classes (mixed in before uvicorn's class)."""

    limits = EdgeLimits()
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    connections: set[Any]
    cycle: Any
    _header_deadline: Deadline | None = None  # the header timeout (created when first set)
    _body_timer: asyncio.TimerHandle | None = None
    _body_pending = False  # a request's headers are in, its body is not (yet)
    _upgraded = False

    def _refuse(self, kind: ErrorKind, detail: str = "") -> None:
        self._cancel_timers()
        if not self.transport.is_closing():
            self.transport.write(refusal(kind, detail))
            self.transport.close()

    def _one_write(self, cycle: Any) -> None:
        """A new response cycle writes through :class:`OneWrite` (its task has not run yet)."""
        if cycle is not None and type(cycle.transport) is not OneWrite:
            cycle.transport = OneWrite(cycle.transport, self.loop)

    def _cancel_timers(self) -> None:
        self._body_pending = False
        if self._header_deadline is not None:
            self._header_deadline.cancel()
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _admit(self) -> bool:
        """False (and the connection answered 503) when the server is full."""
        if len(self.connections) > self.limits.max_connections:
            limit = self.limits.max_connections
            self._refuse(TOO_MANY_CONNECTIONS, f"the server holds {limit} connections at most")
            return False
        self._arm_header_timer()
        return True

    def _arm_header_timer(self) -> None:
        """The next request's headers are due within ``header_timeout`` (unless already due)."""
        if self.transport.is_closing():
            return
        deadline = self._header_deadline
        if deadline is None:
            deadline = self._header_deadline = Deadline(self.loop, self._header_timeout)
        if deadline.when is None:
            deadline.set(self.limits.header_timeout)

    def _clear_header_timer(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.clear()

    def _headers_done(self) -> None:
        """The headers are in: the body is awaited (timed by :meth:`_await_body`)."""
        self._clear_header_timer()
        self._body_pending = True

    def _await_body(self) -> None:
        """Arm the body timer if a body is still awaited after what was received: a request
        whose body came with its headers (every ``GET``) never arms one."""
        if self._body_pending and self._body_timer is None and not self.transport.is_closing():
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_timeout)

    def _body_done(self) -> None:
        self._body_pending = False
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _idle(self) -> bool:
        """No request in progress (waiting for the next request's headers)."""
        return self.cycle is None or bool(self.cycle.response_complete)

    def _header_timeout(self) -> None:
        if self._idle():
            timeout = self.limits.header_timeout
            self._refuse(REQUEST_TIMEOUT, f"the request headers took longer than {timeout:g}s")

    def _body_timeout(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if cycle is None or not cycle.more_body:
            return
        cycle.disconnected = True  # the application sees http.disconnect; its sends are dropped
        cycle.message_event.set()
        if cycle.response_started:
            self._cancel_timers()
            self.transport.close()
        else:
            timeout = self.limits.body_timeout
            self._refuse(REQUEST_TIMEOUT, f"the request body took longer than {timeout:g}s")

    def send_400_response(self, msg: str) -> None:
        """Called by uvicorn inside its ``except`` for the parser's error: the envelope."""
        kind, detail = classify(sys.exc_info()[1])
        self._refuse(kind, detail)


def _httptools_class() -> type[asyncio.Protocol]:
    import httptools
    from uvicorn.protocols.http import httptools_impl
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    respond = Responder(httptools_impl).respond

    class EdgeHttpTools(_Edge, HttpToolsProtocol):
        _keep_alive: Deadline | None = None  # the keep-alive timeout (created when first set)
        #: the fast paths (``dylive.respond``, the keep-alive Deadline) repeat uvicorn's code:
        #: only where it is a version they were checked against (edgecheck.py)
        fast = fast_paths()
        #: paths whose ``GET`` starts at once (``edgestart.start_eager``): the direct routes
        eager: frozenset[str] = frozenset()
        _feeding = False  # in the parser's callbacks (``data_received``)
        _starting: tuple[Any, Any] | None = None  # a request to start once they are done

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._admit()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_timers()
            if self._keep_alive is not None:
                self._keep_alive.cancel()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            """uvicorn's (its ``_unset_keepalive_if_required`` inline: the keep-alive is a
            :class:`Deadline`), then the request parsed to start at once (``_starting``)."""
            if not self.fast:
                super().data_received(data)
                self._await_body()
                return
            keep = self._keep_alive
            if keep is not None:
                keep.when = None
            if self.timeout_keep_alive_task is not None:  # a timer uvicorn armed (none here)
                HttpToolsProtocol._unset_keepalive_if_required(self)
            self._feeding = True
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                msg = "Invalid HTTP request received."
                self.logger.warning(msg)
                self.send_400_response(msg)
            except httptools.HttpParserUpgrade:
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                else:
                    self._unsupported_upgrade_warning()
            finally:
                self._feeding = False
            if self._body_pending:
                self._await_body()
            starting = self._starting
            if starting is not None:
                self._starting = None
                start_eager(self, *starting)

        def _start_asgi_task(self, cycle: Any, app: Any) -> None:
            """A ``GET`` of an :attr:`eager` path, parsed in this ``data_received``: its first
            step once the parser's callbacks are done (``edgestart.start_eager``); else
            uvicorn's task."""
            if (
                self._feeding
                and self.fast
                and cycle.scope["method"] == "GET"
                and cycle.scope["path"] in self.eager
                and not getattr(self.config, "reset_contextvars", False)
            ):
                self._starting = (cycle, app)
            else:
                super()._start_asgi_task(cycle, app)

        def on_url(self, url: bytes) -> None:
            if self.fast:
                self.url += url  # uvicorn's
            else:
                super().on_url(url)
            if len(self.url) > MAX_URL_BYTES:
                raise UrlTooLong

        def on_headers_complete(self) -> None:
            deadline = self._header_deadline  # the headers are in (``_headers_done``)
            if deadline is not None:
                deadline.when = None
            self._body_pending = True
            if not self.fast:
                super().on_headers_complete()
                cycle = self.cycle
                if cycle is not None and cycle.scope is self.scope:
                    self._one_write(cycle)
                return
            headers_complete(self, httptools_impl)  # uvicorn's, the target split plainly
            cycle = self.cycle
            if cycle is not None and cycle.scope is self.scope:  # a new request's cycle
                if type(cycle.transport) is not OneWrite:
                    cycle.transport = OneWrite(cycle.transport, self.loop)
                self.scope["dylive.respond"] = partial(respond, cycle)

        def on_message_complete(self) -> None:
            self._body_pending = False  # ``_body_done``
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None
            if not self.fast:
                super().on_message_complete()
                return
            cycle = self.cycle  # uvicorn's
            if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
                return
            cycle.more_body = False
            cycle.message_event.set()

        def on_response_complete(self) -> None:
            """uvicorn's, with the keep-alive timeout a :class:`Deadline` (no timer handle
            made and cancelled per response); uvicorn's own where its code is not the one
            copied (:attr:`fast`)."""
            if not self.fast:
                super().on_response_complete()
                if self._idle():
                    self._arm_header_timer()
                return
            self.server_state.total_requests += 1
            if not self.transport.is_closing():
                keep = self._keep_alive  # ``_unset_keepalive_if_required``, inline
                if keep is not None:
                    keep.when = None
                if self.timeout_keep_alive_task is not None:
                    HttpToolsProtocol._unset_keepalive_if_required(self)
                flow = self.flow
                if flow.read_paused:
                    flow.resume_reading()
                if self.pipeline:  # pipelined requests: the next one starts
                    cycle, app = self.pipeline.pop()
                    self._start_asgi_task(cycle, app)
                else:
                    if keep is None:
                        keep = Deadline(self.loop, self.timeout_keep_alive_handler)
                        self._keep_alive = keep
                    keep.set(self.timeout_keep_alive)
            cycle = self.cycle
            if cycle is None or cycle.response_complete:  # idle: the next request's headers
                self._arm_header_timer()

        def _unset_keepalive_if_required(self) -> None:
            if self._keep_alive is not None:
                self._keep_alive.clear()
            super()._unset_keepalive_if_required()  # a timer uvicorn armed itself (none here)

        def handle_websocket_upgrade(self) -> None:
            self._cancel_timers()
            super().handle_websocket_upgrade()

    return EdgeHttpTools


def _h11_class() -> type[asyncio.Protocol]:
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class EdgeH11(_Edge, H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._admit()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_timers()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            try:
                super().handle_events()
            except UnicodeError:  # a raw non-ASCII request path (uvicorn decodes it as ASCII)
                self.send_400_response("")
                return
            if not self._upgraded:
                self._one_write(self.cycle)
            self._sync_timers()

        def _sync_timers(self) -> None:
            if self._upgraded or self.transport.is_closing():
                self._cancel_timers()
                return
            state = self.conn.their_state
            if state is h11.SEND_BODY:
                self._headers_done()
                self._await_body()
            elif state is h11.IDLE and self._idle():
                self._arm_header_timer()
            else:
                self._body_done()
                if state is not h11.IDLE:
                    self._clear_header_timer()

        def handle_websocket_upgrade(self, event: h11.Request) -> None:
            self._upgraded = True  # the transport is the WebSocket protocol's now
            self._cancel_timers()
            super().handle_websocket_upgrade(event)

    return EdgeH11


def http_protocol(
    name: str, limits: EdgeLimits | None = None, eager: frozenset[str] = frozenset()
) -> type[asyncio.Protocol]:
    """The edge protocol class for uvicorn's ``http`` option ``name`` (httptools or h11);
    ``eager``: paths whose ``GET`` starts at once, without a task first (httptools)."""
    if name in ("auto", "httptools"):
        try:
            import httptools  # noqa: F401
        except ImportError:
            if name == "httptools":
                raise
            name = "h11"
        else:
            name = "httptools"
    base = _httptools_class() if name == "httptools" else _h11_class()
    attrs: dict[str, Any] = {"limits": limits or EdgeLimits()}
    if name == "httptools":
        attrs["eager"] = eager
    return type(base.__name__, (base,), attrs)


__all__ = ["MAX_URL_BYTES", "EdgeLimits", "OneWrite", "classify", "http_protocol", "refusal"]
