"""The global bound on events read upstream and not stored yet, shared by every room.

Each room's ingestion (:mod:`dylive.collect.ingest`) takes ``n`` units of the one
:class:`Budget` before it queues ``n`` events and gives them back once they are stored (or
dropped at stop). When the budget is spent, a room's reader waits in :meth:`Budget.take`, so it
stops pulling its collector, which stops reading its socket: the data stays upstream (in the
kernel's buffers and the server's replay buffer). A socket left unread long enough is dropped
by the collector's or the server's watchdog, and the collector reconnects from its position
when it reads again: upstream replays what was not read. Memory stays bounded by ``limit``
events across all rooms, whatever their number (``Tuning.max_pending`` only bounds one room).

Why it does not stall: waiting readers cost nothing (no polling, no per-event wake-ups) and
leave the event loop to the writers, which store bigger batches the more is pending; the
readers are let go together only once the pending total fell to ``resume_at`` of the limit
(hysteresis), oldest waiter first, so a room cannot be starved by the others and the loop does
not switch tasks per stored batch.

The other overload is the CPU (another process takes the core): then the store may keep up
while everything is late, the HTTP answers first. :meth:`Budget.watch` measures the event loop's
lag; while it exceeds ``lag_limit`` the budget is *squeezed*: every reader waits as if the bound
were reached, until the lag has stayed under half the limit for ``relax_after`` seconds. Reading
upstream then goes at the pace the CPU left allows, and the requests are answered meanwhile.

:attr:`Budget.overloaded` (a reader waits, or one did within ``hold`` seconds) is what
``/healthz`` reports as ``overloaded``, with the counters of :meth:`Budget.snapshot`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BudgetSnapshot:
    """The budget's figures at one moment (``/healthz``, metrics, ``/api/rooms``)."""

    limit: int  # 0: unbounded
    pending: int  # events taken, not given back yet
    peak: int  # the highest ``pending`` seen
    waiting: int  # readers waiting now
    waits: int  # times a reader had to wait, in all
    waited_seconds: float  # time readers spent waiting, summed over readers (finished waits)
    overloaded: bool
    overloaded_for: float  # seconds since this overload began (0 when not overloaded)
    loop_lag: float  # s, the event loop's last measured lag (``watch``; 0 when not watched)
    squeezed: bool  # reading paused for the loop's lag (``watch``)


class Budget:
    """``Budget(limit)``: at most ``limit`` events pending across rooms (0: no bound).

    ``resume_at``: the share of ``limit`` the pending total must fall to before waiting readers
    are let go. ``hold``: seconds :attr:`overloaded` stays true after the last wait ended.
    """

    def __init__(self, limit: int = 0, *, resume_at: float = 0.75, hold: float = 5.0) -> None:
        if limit < 0:
            raise ValueError("limit must be >= 0")
        self.limit = limit
        self._resume = int(limit * min(max(resume_at, 0.0), 1.0))
        self.hold = hold
        self.pending = 0
        self.peak = 0
        self.waits = 0
        self.waited_seconds = 0.0
        #: (units, future, room_id, since) of the waiting readers, oldest first
        self._waiters: deque[tuple[int, asyncio.Future[None], int, float]] = deque()
        self._since = 0.0  # monotonic s this overload began (0: not overloaded)
        self._last_wait = 0.0  # monotonic s the last wait ended
        self.squeezed = False  # every reader waits: the event loop lags (``watch``)
        self.lag = 0.0
        self._calm_since = 0.0  # monotonic s the lag went under half the limit (squeezed)

    # -- taking and giving ------------------------------------------------------------------
    async def take(self, n: int, room_id: int = 0) -> None:
        """Take ``n`` units; wait while the budget is spent (FIFO with the other readers).

        A single take larger than the whole limit is granted when nothing else is pending, so
        a big frame can never deadlock."""
        if self.try_take(n):
            return
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        future: asyncio.Future[None] = loop.create_future()
        self._waiters.append((n, future, room_id, now))
        self.waits += 1
        if not self._since:
            self._since = now
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.give(n)  # granted as the waiter was cancelled: not ours to keep
            else:
                self._drop(future)
            raise
        finally:
            ended = time.monotonic()
            self._last_wait = ended
            self.waited_seconds += ended - now

    def try_take(self, n: int) -> bool:
        """Take ``n`` units if that needs no wait (no reader waits, the budget is not squeezed
        and they fit); False, nothing taken, otherwise: then :meth:`take` waits its turn. The
        reader's path per batch without a coroutine when the budget is not spent."""
        if not self._waiters and not self.squeezed and self._fits(n, self.limit):
            self._grant(n)
            return True
        return False

    def give(self, n: int) -> None:
        """Give back ``n`` units (events stored, or dropped at stop); wakes waiting readers."""
        if n <= 0:
            return
        self.pending = max(0, self.pending - n)
        if self._waiters and self.pending <= self._resume and not self.squeezed:
            self._release(self.limit)

    def _fits(self, n: int, ceiling: int) -> bool:
        return not self.limit or self.pending + n <= ceiling or self.pending == 0

    def _grant(self, n: int) -> None:
        self.pending += n
        if self.pending > self.peak:
            self.peak = self.pending

    def _release(self, ceiling: int) -> None:
        """Let the oldest waiters go while they fit under ``ceiling``."""
        waiters = self._waiters
        while waiters:
            n, future, _, _ = waiters[0]
            if future.done():  # cancelled meanwhile
                waiters.popleft()
                continue
            if not self._fits(n, ceiling):
                return
            waiters.popleft()
            self._grant(n)
            future.set_result(None)

    def _drop(self, future: asyncio.Future[None]) -> None:
        for i, waiter in enumerate(self._waiters):
            if waiter[1] is future:
                del self._waiters[i]
                break
        if self._waiters and self.pending <= self._resume and not self.squeezed:
            self._release(self.limit)

    # -- the event loop's lag -----------------------------------------------------------------
    async def watch(
        self, lag_limit: float, *, every: float = 0.1, relax_after: float = 1.0
    ) -> None:
        """Measure the loop's lag every ``every`` s and squeeze while it exceeds ``lag_limit``
        (see the module docstring); runs until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(every)
            self.observe(loop.time() - started - every, lag_limit, relax_after)

    def observe(self, lag: float, lag_limit: float, relax_after: float = 1.0) -> None:
        """One lag measurement (seconds): squeeze above ``lag_limit``; relax once the lag
        stayed under half of it for ``relax_after`` seconds."""
        now = time.monotonic()
        self.lag = max(0.0, lag)
        if self.lag > lag_limit:
            self._calm_since = 0.0
            if not self.squeezed:
                self.squeezed = True
                if not self._since:
                    self._since = now
            return
        if not self.squeezed:
            return
        if self.lag > lag_limit / 2:
            self._calm_since = 0.0
        elif not self._calm_since:
            self._calm_since = now
        elif now - self._calm_since >= relax_after:
            self.squeezed = False
            self._last_wait = now  # ``hold`` counts from here too
            if self._waiters and (self.pending <= self._resume or not self.limit):
                self._release(self.limit)

    # -- what it shows ----------------------------------------------------------------------
    @property
    def overloaded(self) -> bool:
        """A reader waits now, or one did within ``hold`` seconds."""
        if self._waiters or self.squeezed:
            return True
        if self._since and time.monotonic() - self._last_wait >= self.hold:
            self._since = 0.0  # this overload is over
        return bool(self._since)

    def paused_rooms(self) -> set[int]:
        """The rooms whose reader waits now."""
        return {room for _, future, room, _ in self._waiters if not future.done()}

    def snapshot(self) -> BudgetSnapshot:
        overloaded = self.overloaded
        now = time.monotonic()
        return BudgetSnapshot(
            limit=self.limit,
            pending=self.pending,
            peak=self.peak,
            waiting=sum(1 for w in self._waiters if not w[1].done()),
            waits=self.waits,
            waited_seconds=self.waited_seconds,
            overloaded=overloaded,
            overloaded_for=now - self._since if overloaded else 0.0,
            loop_lag=self.lag,
            squeezed=self.squeezed,
        )

    def problem(self) -> str:
        """The ``/healthz`` reason while overloaded ("" when not)."""
        snap = self.snapshot()
        if not snap.overloaded:
            return ""
        why = f"event loop lag {snap.loop_lag:.2f} s; " if snap.squeezed else ""
        return (
            f"overloaded: {why}{snap.pending} events read and not stored yet (limit"
            f" {snap.limit}); {snap.waiting} rooms' upstream reading paused; for"
            f" {snap.overloaded_for:.0f} s"
        )
