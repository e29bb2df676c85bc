"""A tiny sliding-window rate meter (messages per second over the last ``window`` seconds)."""

from __future__ import annotations

from collections import deque


class RateMeter:
    """Counts per whole second in a ring of ``window`` buckets."""

    __slots__ = ("_buckets", "window")

    def __init__(self, window: int = 10) -> None:
        self.window = window
        self._buckets: deque[list[int]] = deque()  # [second, count]

    def add(self, now: float, n: int = 1) -> None:
        sec = int(now)
        if self._buckets and self._buckets[-1][0] == sec:
            self._buckets[-1][1] += n
        else:
            self._buckets.append([sec, n])
        self._trim(sec)

    def _trim(self, sec: int) -> None:
        while self._buckets and self._buckets[0][0] <= sec - self.window:
            self._buckets.popleft()

    def rate(self, now: float) -> float:
        self._trim(int(now))
        return sum(c for _, c in self._buckets) / float(self.window)
