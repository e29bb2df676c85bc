"""Many rooms in one process: one task per :class:`~dylive.source.collector.Room`.

Public API (stable)::

    async with Supervisor(upstream=…, options=CollectorOptions(…), queue_size=10_000) as sup:
        key = sup.add("https://live.douyin.com/123", follow=True)   # per-room cookie/proxy/UA too
        async for key, event in sup:       # events of all rooms; per-room arrival order kept
            ...
        sup.status()                       # {key: RoomStatus}
        await sup.remove(key)

Events go through one bounded queue: a slow consumer makes the room tasks wait (backpressure,
nothing is dropped; the transports then resume from their positions). Rooms without their own
proxy share one HTTP client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from dylive.decode import Event
from dylive.errors import DyliveError, RoomNotFound, RoomNotLive, UpstreamError
from dylive.source.collector import CollectorOptions, Room, RoomStatus
from dylive.source.gaps import GapEvent
from dylive.source.reconnect import Backoff
from dylive.source.tls import tls_context

log = logging.getLogger(__name__)

__all__ = ["Supervisor"]


class Supervisor:
    """Runs rooms as tasks; see the module docstring."""

    def __init__(
        self,
        *,
        upstream: str | None = None,
        options: CollectorOptions | None = None,
        queue_size: int = 10_000,
        max_connections: int = 200,
        open_concurrency: int = 20,
    ) -> None:
        self.upstream = upstream
        self.options = options or CollectorOptions()
        self.queue: asyncio.Queue[tuple[str, Event | GapEvent]] = asyncio.Queue(queue_size)
        self.rooms: dict[str, Room] = {}
        self.errors: dict[str, str] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._opening = asyncio.Semaphore(open_concurrency)
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=50)
        self._client = httpx.AsyncClient(
            limits=limits, timeout=self.options.http_timeout, trust_env=False, verify=tls_context()
        )

    async def __aenter__(self) -> Supervisor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def add(self, ident: str | int, *, key: str | None = None, **room_kwargs: Any) -> str:
        """Start collecting ``ident``; ``room_kwargs`` go to :class:`Room` (cookie, proxy, follow…)."""
        name = key or str(ident)
        if name in self.rooms:
            raise ValueError(f"room {name!r} is already supervised")
        room_kwargs.setdefault("upstream", self.upstream)
        room_kwargs.setdefault("options", self.options)
        if not room_kwargs.get("proxy"):
            room_kwargs.setdefault("client", self._client)
        room = Room(ident, **room_kwargs)
        self.rooms[name] = room
        self._tasks[name] = asyncio.create_task(self._run(name, room), name=f"room:{name}")
        return name

    async def _open(self, key: str, room: Room) -> bool:
        """Enter ``room`` (at most ``open_concurrency`` at a time); upstream failures are
        retried with backoff, a room that does not exist or is not live is final."""
        wait = Backoff(initial=1.0, cap=30.0)
        while True:
            try:
                async with self._opening:
                    await room.__aenter__()
                return True
            except (RoomNotFound, RoomNotLive) as exc:
                self.errors[key] = str(exc)
                log.warning("room %s stopped: %s", key, exc)
                return False
            except UpstreamError as exc:
                self.errors[key] = str(exc)
                log.info("room %s: cannot open yet: %s", key, exc)
                await asyncio.sleep(wait.next_delay())

    async def _run(self, key: str, room: Room) -> None:
        if not await self._open(key, room):
            return
        self.errors.pop(key, None)
        try:
            async for event in room:
                await self.queue.put((key, event))
        except DyliveError as exc:
            self.errors[key] = str(exc)
            log.warning("room %s stopped: %s", key, exc)
        except Exception as exc:
            self.errors[key] = f"{type(exc).__name__}: {exc}"
            log.exception("room %s crashed", key)
        finally:
            await room.aclose()

    async def remove(self, key: str) -> None:
        task = self._tasks.pop(key, None)
        self.rooms.pop(key, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def status(self) -> dict[str, RoomStatus]:
        return {key: room.status() for key, room in self.rooms.items()}

    def running(self) -> int:
        return sum(1 for t in self._tasks.values() if not t.done())

    async def __aiter__(self) -> AsyncIterator[tuple[str, Event | GapEvent]]:
        while True:
            yield await self.queue.get()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self.rooms.clear()
        await self._client.aclose()
