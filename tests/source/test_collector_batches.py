"""The batch path (``Room.batches()``, :mod:`dylive.source.batches`): a delivery's events at once
with the checkpoint after them, and the Room's own one-event iteration built on it."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import Any

import pytest
from support.simkit import FAST, fast_backoff

from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source import Checkpoint, GapEvent, Room
from dylive.source.batches import one_by_one


@pytest.mark.parametrize("transport", ["push", "poll"])
async def test_batches_carry_their_checkpoint_and_a_resume_continues_exactly_after(
    transport: str,
) -> None:
    options = replace(FAST, transport=transport)
    async with SimServer(SimConfig(seed=23, rate=80.0, tick=0.05)) as sim:
        before: list[int] = []
        async with Room(
            DEFAULT_WEB_RID, upstream=sim.base_url, options=options, backoff=fast_backoff()
        ) as room:
            async for events, checkpoint in room.batches():
                assert events, "a delivery without events is not handed out"
                assert not any(isinstance(e, GapEvent) for e in events[1:])
                assert room.checkpoint is checkpoint  # moved as the batch is handed out
                assert checkpoint.last_msg_id == events[-1].msg_id
                assert checkpoint.transport in ("push", "poll")
                before.extend(e.msg_id for e in events if not isinstance(e, GapEvent))
                if len(before) >= 40:
                    break
        after: list[int] = []
        async with Room(
            DEFAULT_WEB_RID,
            upstream=sim.base_url,
            options=options,
            backoff=fast_backoff(),
            resume=checkpoint,
        ) as room:
            async for event in room:
                assert not isinstance(event, GapEvent), event
                after.append(event.msg_id)
                if len(after) == 60:
                    break
        log = [int(e["msg_id"]) for e in sim.log(DEFAULT_WEB_RID)]
    start = log.index(before[0])
    assert before == log[start : start + len(before)]  # in order, nothing lost or repeated
    assert after == log[start + len(before) : start + len(before) + 60]  # exactly after


async def test_one_by_one_moves_the_checkpoint_just_before_each_batch_s_last_event() -> None:
    cps = [Checkpoint(f"c{i}", "", "", "push", i) for i in range(4)]
    batches: list[Any] = [(["a", "b", "c"], cps[1]), ([], cps[2]), (["d"], cps[3])]
    moved: list[Checkpoint] = []

    async def source() -> AsyncGenerator[Any, None]:
        for batch in batches:
            yield batch

    seen = []
    async for event in one_by_one(source(), moved.append):
        seen.append((event, list(moved)))
    assert seen == [
        ("a", []),
        ("b", []),
        ("c", [cps[1]]),  # the checkpoint covers the batch once its last event is out
        ("d", [cps[1], cps[2], cps[3]]),  # an empty batch moves it at once
    ]


async def test_a_room_is_iterated_one_way() -> None:
    async with (
        SimServer(SimConfig(seed=24, rate=20.0, tick=0.05)) as sim,
        Room(DEFAULT_WEB_RID, upstream=sim.base_url, options=FAST) as room,
    ):
        events = aiter(room)
        assert aiter(room) is events  # the one iteration
        with pytest.raises(RuntimeError):
            room.batches()  # not a second one, by batch
        await anext(events)
    with pytest.raises(RuntimeError):
        Room(DEFAULT_WEB_RID, upstream=sim.base_url).batches()  # not open
