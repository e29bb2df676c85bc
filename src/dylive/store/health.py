"""Whether a store answers in time: what ``/healthz`` (a load balancer, Kubernetes) acts on.

Two signals, both bounded in time:

- a *probe*: a read (``SELECT 1`` on a reader connection) then a write through the writer task
  (an empty operation queued behind every pending write, committed as any batch is). One probe
  runs at a time; one still unanswered after ``within`` seconds is reported at once by later
  checks (a check never waits longer than ``within``), and a new one starts once it ends.
- the writer's *progress* (:class:`WriterProgress`): how long the batch the writer is running
  has been pending. Writes that do not commit for ``stalled_after`` seconds make the store
  unhealthy even while a probe has not timed out yet.

A store that fails fast (connection refused, database locked) fails the probe with its error.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any


class WriterProgress:
    """The writer task's running batch: when its oldest operation was queued (monotonic)."""

    __slots__ = ("_since",)

    def __init__(self) -> None:
        self._since: float | None = None

    def running(self, queued_at: Sequence[float]) -> None:
        self._since = min(queued_at) if queued_at else time.monotonic()

    def idle(self) -> None:
        self._since = None

    def stalled_for(self) -> float:
        """Seconds the running batch's oldest write has waited (0 while the writer is idle)."""
        return 0.0 if self._since is None else time.monotonic() - self._since


class HealthProbe(abc.ABC):
    """``check``: the store's problems right now (an engine provides ``_ping_read`` and
    ``_ping_write`` and feeds ``progress`` from its writer task)."""

    progress: WriterProgress
    _probe: asyncio.Task[None] | None = None
    _probe_started = 0.0

    async def check(self, *, within: float, stalled_after: float) -> list[str]:
        """Problems with the store (empty when healthy), within ``within`` seconds: a read and
        a write that do not both answer within ``within``, or fail; pending writes that have not
        committed for more than ``stalled_after`` seconds."""
        problems: list[str] = []
        stalled = self.progress.stalled_for()
        if stalled > stalled_after:
            problems.append(f"store: pending writes not committed for {stalled:.0f} s")
        probe = self._probe
        if probe is None or probe.done():
            probe = self._probe = asyncio.create_task(self._ping(), name="dylive-store-probe")
            probe.add_done_callback(_retrieve)
            self._probe_started = time.monotonic()
        left = self._probe_started + within - time.monotonic()
        if left > 0:
            await asyncio.wait({probe}, timeout=left)
        if not probe.done():
            waited = time.monotonic() - self._probe_started
            problems.append(f"store: no answer for {waited:.1f} s (limit {within:g} s)")
        elif not probe.cancelled() and (exc := probe.exception()) is not None:
            problems.append(f"store: {exc}")
        return problems

    async def _ping(self) -> None:
        await self._ping_read()
        await self._ping_write()

    async def _stop_probe(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None and not probe.done():
            probe.cancel()
            with contextlib.suppress(BaseException):
                await probe

    @abc.abstractmethod
    async def _ping_read(self) -> None:
        """One trivial read on a reader connection."""

    @abc.abstractmethod
    async def _ping_write(self) -> None:
        """One trivial operation through the writer task, committed as a batch."""


def _retrieve(task: asyncio.Task[Any]) -> None:
    """A probe's failure is reported by ``check``; never as "exception was never retrieved"."""
    if not task.cancelled():
        task.exception()
