"""The edge's per-connection primitives: one write per response, the whole-response write of the
direct routes, and timers moved without a timer handle per request (:mod:`dylive.serve.edge`).

- :class:`OneWrite`: the transport as a response cycle sees it; the head uvicorn writes is held
  and leaves with the body (one ``send``).
- :class:`Responder`: a whole response (status, headers, body) written as uvicorn's ``send``
  would write it, in one write, without the two ASGI messages (the direct routes of
  :class:`~dylive.serve.app.App`).
- :class:`Deadline`: a timeout that is set and cleared once per request (the header timeout, the
  keep-alive) without a loop timer each time: one timer per connection, moved on when it fires
  early.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

__all__ = ["Deadline", "OneWrite", "Responder"]


_CONTINUE = b"HTTP/1.1 100 "


class OneWrite:
    """The transport as one request's response cycle sees it: its first write (the response
    head) is held and written with the next one (the body: ``writelines``, one send), or at the
    end of the event loop's current step if no other write comes first. Anything else is the
    transport's. An interim ``100 Continue`` is written at once."""

    __slots__ = ("_held", "_loop", "_pristine", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._pristine = True  # nothing written yet: the next write is the head

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self.transport.writelines((held, data))
        elif self._pristine and not data.startswith(_CONTINUE):
            self._pristine = False
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self.transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self.transport.is_closing():
                self.transport.write(held)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class Responder:
    """:meth:`respond` with uvicorn's status lines and header checks (its httptools module's).

    A header (name, value) that passed the checks is kept with its line (name lower-cased) and
    not checked again: a poller's responses repeat the same few (the content type, the server
    and date headers, lengths); at most :attr:`KEPT` are kept."""

    __slots__ = ("_header", "_lines", "_status", "_value")

    #: header lines kept (a new ``date`` value a second, a ``content-length`` per body size)
    KEPT = 512

    def __init__(self, uvicorn_httptools: Any) -> None:
        self._status: dict[int, bytes] = uvicorn_httptools.STATUS_LINE
        self._header: re.Pattern[bytes] = uvicorn_httptools.HEADER_RE
        self._value: re.Pattern[bytes] = uvicorn_httptools.HEADER_VALUE_RE
        self._lines: dict[tuple[bytes, bytes], bytes] = {}  # checked header -> its line

    def respond(
        self, cycle: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> bool:
        """Answer the request of ``cycle`` (uvicorn's httptools ``RequestResponseCycle``) with a
        whole response: the bytes uvicorn's ``send`` writes for a ``http.response.start`` and one
        final ``http.response.body`` (its default headers first, names lower-cased, ``connection:
        close`` when the connection is not kept alive), in one write; then the cycle is complete
        as after that ``send``. False, and nothing done, where ``send`` does more than that (the
        response started, writes paused, the client gone, an access log, ``HEAD``, chunked, a
        header it refuses, a length that is not the body's, an unknown status): the caller sends
        the ASGI messages instead."""
        if cycle.response_started or cycle.disconnected or cycle.flow.write_paused:
            return False
        if cycle.access_log or cycle.scope["method"] == "HEAD":
            return False
        line = self._status.get(status)
        if line is None:
            return False
        content = [line]
        keep_alive = cycle.keep_alive
        closing = length = False
        lines = self._lines
        for header in (*cycle.default_headers, *headers):
            known = lines.get(header) if type(header) is tuple else None  # (a list: as is)
            if known is not None:  # checked before: neither of the special names below
                content.append(known)
                continue
            name, value = header
            if self._header.search(name) or self._value.search(value):
                return False
            name = name.lower()
            if name == b"content-length":
                if length or value.strip() != b"%d" % len(body):
                    return False
                length = True
            elif name == b"transfer-encoding":
                return False
            elif name == b"connection":
                if b"close" in [token.lower().strip() for token in value.split(b",")]:
                    keep_alive, closing = False, True
            elif type(header) is tuple:  # a plain header: its line is kept
                if len(lines) >= self.KEPT:
                    lines.clear()
                known = lines[header] = b"%s: %s\r\n" % (name, value)
                content.append(known)
                continue
            content += (name, b": ", value, b"\r\n")
        if not length:
            return False
        if not keep_alive and not closing:
            content.append(b"connection: close\r\n")
        content += (b"\r\n", body)
        transport = cycle.transport
        if type(transport) is OneWrite:
            transport = transport.transport  # nothing held: this is the response's first write
        cycle.response_started = cycle.response_complete = True
        cycle.waiting_for_100_continue = False
        cycle.keep_alive = keep_alive
        transport.write(b"".join(content))
        cycle.message_event.set()
        if not keep_alive:
            transport.close()
        cycle.on_response()
        return True


class Deadline:
    """A timeout moved often and rarely due: :meth:`set` and :meth:`clear` only write a time;
    one loop timer (armed by the first :meth:`set`) fires at the deadline it was armed for,
    is armed again for a later deadline set since, and calls ``expired`` when the current
    deadline has passed. :meth:`cancel` stops the timer (the connection is gone)."""

    __slots__ = ("_at", "_expired", "_handle", "_loop", "when")

    #: a timer may fire this much before its time (uvloop's clock counts milliseconds)
    SLACK = 0.002

    def __init__(self, loop: asyncio.AbstractEventLoop, expired: Callable[[], None]) -> None:
        self._loop = loop
        self._expired = expired
        self._handle: asyncio.TimerHandle | None = None
        self._at = 0.0  # the time the handle fires at
        self.when: float | None = None  # the deadline (None: not set)

    def set(self, delay: float) -> None:
        """Due ``delay`` seconds from now (replacing any deadline set before)."""
        when = self.when = self._loop.time() + delay
        handle = self._handle
        if handle is None or when < self._at:
            if handle is not None:
                handle.cancel()
            self._at = when
            self._handle = self._loop.call_at(when, self._fire)

    def clear(self) -> None:
        self.when = None

    def cancel(self) -> None:
        self.when = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        when = self.when
        if when is None:
            return
        if self._loop.time() + self.SLACK < when:  # moved on since the timer was armed
            self._at = when
            self._handle = self._loop.call_at(when, self._fire)
            return
        self.when = None
        self._expired()
