"""Handler style for :class:`dylive.Room`: ``@room.on(ChatEvent)``, ``room.run()``, ``await
room.start()``, ``room.stop()``, and the connection events only handlers receive.

Handlers are plain functions or coroutine functions taking one event. ``on(kind)`` matches by
``isinstance``: ``on(dylive.Event)`` gets every message, ``on(GiftEvent)`` only gifts. Besides
the messages (and :class:`~dylive.source.gaps.GapEvent`), handlers can receive:

- :class:`ConnectEvent` — a connection is up (first message, or after a reconnect);
- :class:`DisconnectEvent` — the connection dropped (the Room reconnects by itself and a
  ConnectEvent follows), or the Room was stopped while connected;
- :class:`LiveEndEvent` — the broadcast ended (``start()`` then returns, unless ``follow=True``).

Every event reaches the handlers in the order it happened, one handler call at a time; a slow
handler slows the reading down (bounded queue) rather than letting memory grow. A handler that
raises is logged and the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from dylive.decode import Event
from dylive.source.gaps import GapEvent

log = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[E], Awaitable[None] | None]

#: Events waiting for handlers before reading pauses (bounded memory with slow handlers).
QUEUE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class ConnectEvent:
    """The Room is connected to the broadcast ``room_id`` over ``transport`` (push | poll)."""

    room_id: int
    transport: str


@dataclass(frozen=True, slots=True)
class DisconnectEvent:
    """The connection to ``room_id`` dropped (``reason``); a reconnect follows unless stopped."""

    room_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class LiveEndEvent:
    """The broadcast ``room_id`` ended."""

    room_id: int


Lifecycle = ConnectEvent | DisconnectEvent | LiveEndEvent
HANDLED: tuple[type, ...] = (Event, GapEvent, ConnectEvent, DisconnectEvent, LiveEndEvent)
_DONE = object()


class Handlers:
    """The handler half of :class:`dylive.Room` (a mixin: the Room supplies the iteration)."""

    info: Any

    def __init__(self) -> None:
        self._handlers: list[tuple[type, Callable[[Any], Any]]] = []
        self._queue: asyncio.Queue[Any] | None = None
        self._room_task: asyncio.Task[None] | None = None
        self._drained = asyncio.Event()
        self._connected_to = 0  # room_id while connected, for the closing DisconnectEvent

    def __aiter__(self) -> AsyncIterator[Any]:
        raise NotImplementedError

    async def __aenter__(self) -> Any:
        raise NotImplementedError

    async def __aexit__(self, *exc: object) -> None:
        raise NotImplementedError

    def on(self, kind: type[E]) -> Callable[[Handler[E]], Handler[E]]:
        """Decorator: call the function for every event that is an instance of ``kind``."""
        if not (isinstance(kind, type) and issubclass(kind, HANDLED)):
            names = ", ".join(k.__name__ for k in HANDLED)
            raise TypeError(f"on() takes an event class ({names} or a subclass), not {kind!r}")

        def register(handler: Handler[E]) -> Handler[E]:
            if not callable(handler):
                raise TypeError(f"a handler must be callable, not {handler!r}")
            self._handlers.append((kind, handler))
            return handler

        return register

    def run(self) -> None:
        """Block until the broadcast ends, the Room is stopped, or Ctrl-C (scripts)."""
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(self.start())

    async def start(self) -> None:
        """Connect (unless already inside ``async with``) and call the handlers until the
        broadcast ends or :meth:`stop` is called; upstream errors that end the Room raise."""
        if self._room_task is not None:
            raise RuntimeError("this Room is already running")
        if self.info is None:
            async with self:
                await self._dispatch_all()
        else:
            await self._dispatch_all()

    def stop(self) -> None:
        """End :meth:`start` (from a handler or anywhere else); events already read are
        still handled."""
        if self._room_task is not None:
            self._room_task.cancel()

    def _lifecycle(self, event: Lifecycle) -> None:
        """Called by the Room as connection events happen (in order with the messages); a
        Connect while connected and a Disconnect while not connected are dropped."""
        if isinstance(event, ConnectEvent):
            if self._connected_to == event.room_id:
                return
            self._connected_to = event.room_id
        elif isinstance(event, DisconnectEvent):
            if not self._connected_to:
                return
            self._connected_to = 0
        else:
            self._connected_to = 0
        if self._queue is not None:
            self._queue.put_nowait(event)

    async def _read(self, queue: asyncio.Queue[Any]) -> None:
        try:
            async for event in self:
                queue.put_nowait(event)
                while queue.qsize() >= QUEUE_LIMIT:
                    self._drained.clear()
                    await self._drained.wait()
        finally:
            queue.put_nowait(_DONE)

    async def _dispatch_all(self) -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._queue = queue
        self._room_task = task = asyncio.create_task(self._read(queue), name="dylive-room-read")
        try:
            while (event := await queue.get()) is not _DONE:
                await self._dispatch(event)
                if queue.qsize() < QUEUE_LIMIT // 2:
                    self._drained.set()
        finally:
            self._queue = self._room_task = None
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._connected_to:
            await self._dispatch(DisconnectEvent(self._connected_to, "stopped"))
            self._connected_to = 0
        if not task.cancelled():
            task.result()  # a failure that ended the Room

    async def _dispatch(self, event: Any) -> None:
        for kind, handler in self._handlers:
            if not isinstance(event, kind):
                continue
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("handler %s failed on %s", _name(handler), type(event).__name__)


def _name(handler: Callable[[Any], Any]) -> str:
    return str(getattr(handler, "__qualname__", None) or repr(handler))
