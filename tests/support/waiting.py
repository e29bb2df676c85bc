"""Waiting on a condition with a deadline (tests never sleep a fixed time).

``until`` polls a check (a plain callable or one returning an awaitable) until it returns
something truthy and returns that value; after ``within`` seconds it fails with an
``AssertionError`` that names ``what`` and the last value seen. ``reached`` is the same loop
answering ``True``/``False`` instead of failing, for ``assert await reached(...)`` and for
callers that go on when the condition never came. ``until_sync`` is ``until`` for code outside
an event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def _value(check: Callable[[], Any]) -> Any:
    got = check()
    if inspect.isawaitable(got):
        got = await got
    return got


async def until(
    check: Callable[[], Any], within: float = 30.0, what: str = "", every: float = 0.05
) -> Any:
    """Poll ``check`` (sync or async) until truthy and return its value; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        last = await _value(check)
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"condition not reached in {within} s: {what or check!r} (last: {last!r})"
            )
        await asyncio.sleep(every)


async def reached(check: Callable[[], Any], within: float, every: float = 0.05) -> bool:
    """Poll ``check`` (sync or async) until truthy: ``True``, or ``False`` after ``within`` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await _value(check):
            return True
        await asyncio.sleep(every)
    return bool(await _value(check))


def until_sync(
    check: Callable[[], T], within: float = 30.0, what: str = "", every: float = 0.05
) -> T:
    """``until`` outside an event loop: poll ``check`` until truthy and return its value."""
    deadline = time.monotonic() + within
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"condition not reached in {within} s: {what or check!r} (last: {last!r})"
            )
        time.sleep(every)
