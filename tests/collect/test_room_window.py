"""A collected room's messages/s window stays bounded while nobody reads the room status
(it used to grow by one entry per stored batch for as long as the room was collected)."""

from __future__ import annotations

import time

from dylive.collect.rooms import RoomState
from dylive.source.room import RoomInfo


def test_window_is_trimmed_on_every_batch() -> None:
    state = RoomState(info=RoomInfo("615189692839", 1, 2), window_seconds=0.05)
    for _ in range(100):
        state.count(2)
    assert len(state.window) == 100 and state.rate() == 200 / 0.05
    time.sleep(0.06)
    state.count(3)
    assert len(state.window) == 1
    assert state.rate() == 3 / 0.05
