"""Objects of a type still alive, as the garbage collector sees them: with the collector turned
off around a piece of work, what that work left behind for it (reference cycles) instead of
freeing by reference counting."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


def alive(kind: type) -> int:
    """How many objects of exactly ``kind`` the garbage collector tracks now."""
    return sum(type(o) is kind for o in gc.get_objects())


@contextlib.contextmanager
def collector_off() -> Iterator[None]:
    """The garbage collector collected once, then off for the block (on again after it)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
