"""How a request starts on the httptools edge (:mod:`dylive.serve.edge`): its head into the scope
and the response cycle, and its first step run at once.

- :func:`headers_complete` is uvicorn's ``HttpToolsProtocol.on_headers_complete`` (the version
  :mod:`.edgecheck` fingerprints) with one change: a request target made only of the characters
  RFC 3986 allows unescaped in a path and a query (what pollers send: a path, tokens, digits,
  cursors) is split at its first ``?`` (:func:`split_target`) instead of going through
  httptools' URL parser (~6,500 instructions a request; the same path and query).
- :func:`start_eager`: the request's coroutine (uvicorn's ``run_asgi``) takes its first step at
  once, inside ``data_received``, instead of in a task the event loop starts on its next turn: a
  long-poll page already stored is answered then and there, without a task. A request that has
  to wait goes on in a task made when it does (:func:`_resumed`), as uvicorn's would from there.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import string
import types
import urllib.parse
from collections.abc import Coroutine, Generator
from typing import Any

log = logging.getLogger(__name__)

#: the characters RFC 3986 leaves unescaped in a path and a query, and ``%`` for escapes (no
#: ``#``, no space, no non-ASCII): a target in origin form made of them is split at its first ``?``
_PLAIN = (string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/?%").encode()


def split_target(url: bytes, parse_url: Any) -> tuple[bytes, bytes]:
    """(path, query) of a request target: as httptools' ``parse_url`` reads it, which other
    targets (absolute form, fragments, other characters) go through."""
    if url[:1] == b"/" and not url.translate(None, _PLAIN):  # nothing left: all plain
        path, _, query = url.partition(b"?")
        return path, query
    parsed = parse_url(url)
    return parsed.path, parsed.query or b""


def headers_complete(protocol: Any, impl: Any) -> None:
    """uvicorn's ``on_headers_complete`` for ``protocol`` (``impl``: its httptools module), the
    target split by :func:`split_target`."""
    self = protocol
    http_version = self.parser.get_http_version()
    method = self.parser.get_method()
    self.scope["method"] = method.decode("ascii")
    if http_version != "1.1":
        self.scope["http_version"] = http_version
    if self.parser.should_upgrade() and self._should_upgrade():
        return
    raw_path, query = split_target(self.url, impl.httptools.parse_url)
    path = raw_path.decode("ascii")
    if "%" in path:
        path = urllib.parse.unquote(path)
    full_path = self.root_path + path
    full_raw_path = self.root_path.encode("ascii") + raw_path
    self.scope["path"] = full_path
    self.scope["raw_path"] = full_raw_path
    self.scope["query_string"] = query

    # Handle 503 responses when 'limit_concurrency' is exceeded.
    if self.limit_concurrency is not None and (
        len(self.connections) >= self.limit_concurrency or len(self.tasks) >= self.limit_concurrency
    ):
        app = impl.service_unavailable
        message = "Exceeded concurrency limit."
        self.logger.warning(message)
    else:
        app = self.app

    existing_cycle = self.cycle
    self.cycle = impl.RequestResponseCycle(
        scope=self.scope,
        transport=self.transport,
        flow=self.flow,
        logger=self.logger,
        access_logger=self.access_logger,
        access_log=self.access_log,
        default_headers=self.server_state.default_headers,
        message_event=impl.asyncio.Event(),
        expect_100_continue=self.expect_100_continue,
        keep_alive=http_version != "1.0" and self.parser.should_keep_alive(),
        on_response=self.on_response_complete,
    )
    if existing_cycle is None or existing_cycle.response_complete:
        # Standard case - start processing the request.
        self._start_asgi_task(self.cycle, app)
    else:
        # Pipelined HTTP requests need to be queued up.
        self.flow.pause_reading()
        self.pipeline.appendleft((self.cycle, app))


@types.coroutine
def _resumed(coro: Coroutine[Any, Any, Any], pending: Any) -> Generator[Any, Any, Any]:
    """The rest of ``coro`` after a first step that yielded ``pending`` (the future it waits
    on, or None): a task runs it as it would have run ``coro`` from there. Primed (one
    ``send(None)``) before the task gets it, so that a cancellation before the task's first step
    reaches ``coro`` too (and cancels ``pending``, as a task waiting on it would)."""
    waiting = False
    try:
        yield  # the priming step
        waiting = True
        yield pending
    except BaseException as exc:  # the task was cancelled while ``coro`` waited
        if not waiting and isinstance(pending, asyncio.Future):
            pending.cancel()
        try:
            pending = coro.throw(exc)
        except StopIteration as stop:
            return stop.value
        return (yield from _resumed(coro, pending))
    return (yield from coro)


def start_eager(protocol: Any, cycle: Any, app: Any) -> None:
    """Run the first step of ``cycle``'s request now (in a context of its own, as a task would);
    if it has to wait, the rest in a task of ``protocol``'s (uvicorn's ``tasks``)."""
    context = contextvars.copy_context()
    coro = cycle.run_asgi(app)
    try:
        pending = context.run(coro.send, None)
    except StopIteration:
        return
    except Exception as exc:  # run_asgi answers the application's errors; not its own
        log.error("request failed: %r", exc, exc_info=exc)
        return
    rest = _resumed(coro, pending)
    rest.send(None)
    task = protocol.loop.create_task(rest, context=context)
    task.add_done_callback(protocol.tasks.discard)
    protocol.tasks.add(task)
