"""Resuming a room from an earlier collector's checkpoint: nothing lost, nothing repeated.

A first ``Room`` is read up to some event, its ``checkpoint`` taken right after that event and
the room closed (as a killed process would stop); the simulator keeps emitting; a second
``Room(resume=checkpoint)`` must continue exactly after the last event the checkpoint covers.
The checkpoint moves one delivery (push frame / im/fetch response) at a time, when the
delivery's last event is handed out: it never covers an event not yet handed out, so a resume
can repeat the unread rest of a delivery (the store ignores those duplicates) but never skip. When the simulator can no
longer replay that far, the resume yields a GapEvent counting exactly the messages missed.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from support.simkit import FAST, fast_backoff, wait_for

from dylive.decode import Event
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source import Checkpoint, CollectorOptions, GapEvent, Room


async def first_events(
    sim: SimServer, options: CollectorOptions, count: int
) -> tuple[list[int], Checkpoint]:
    """The msg_ids of the first ``count`` events of a fresh Room and its checkpoint after them."""
    ids: list[int] = []
    async with Room(
        DEFAULT_WEB_RID, upstream=sim.base_url, options=options, backoff=fast_backoff()
    ) as room:
        assert not room.checkpoint
        async for event in room:
            if isinstance(event, Event):
                ids.append(event.msg_id)
                checkpoint = room.checkpoint  # covers at most what was handed out
                assert checkpoint.last_msg_id in (0, *ids)
            if len(ids) >= count and checkpoint.last_msg_id:
                return ids, checkpoint
    raise AssertionError("the room ended early")


def emitted_after(sim: SimServer, msg_id: int) -> int:
    ids = [int(e["msg_id"]) for e in sim.log(DEFAULT_WEB_RID)]
    return len(ids) - ids.index(msg_id) - 1


@pytest.mark.parametrize("transport", ["push", "poll", "auto"])
async def test_resume_continues_exactly_after_the_checkpoint(transport: str) -> None:
    options = replace(FAST, transport=transport)
    async with SimServer(SimConfig(seed=21, rate=80.0, tick=0.05)) as sim:
        # stop in the middle of a delivery: the checkpoint must not cover the unread rest
        before, checkpoint = await first_events(sim, options, 37)
        assert checkpoint and checkpoint.transport in ("push", "poll")
        if transport != "poll":
            assert checkpoint.push_server  # a new process can go straight to the socket
        assert await wait_for(lambda: emitted_after(sim, before[-1]) >= 60, 10.0)
        after: list[int] = []
        async with Room(
            DEFAULT_WEB_RID,
            upstream=sim.base_url,
            options=options,
            backoff=fast_backoff(),
            resume=checkpoint,
        ) as room:
            assert room.checkpoint == checkpoint  # nothing yielded yet: still the resume point
            async for event in room:
                assert not isinstance(event, GapEvent), event
                after.append(event.msg_id)
                if len(after) == 100:
                    break
        log = [int(e["msg_id"]) for e in sim.log(DEFAULT_WEB_RID)]
        start, covered = log.index(before[0]), log.index(checkpoint.last_msg_id)
        assert before[: before.index(checkpoint.last_msg_id) + 1] == log[start : covered + 1]
        assert after == log[covered + 1 : covered + 1 + len(after)]  # exactly after it


async def test_resume_older_than_the_replay_buffer_is_a_gap_of_known_size() -> None:
    config = SimConfig(seed=22, rate=80.0, tick=0.05, replay_max=20)
    async with SimServer(config) as sim:
        before, checkpoint = await first_events(sim, FAST, 5)
        assert await wait_for(lambda: emitted_after(sim, before[-1]) >= 60, 10.0)
        events: list[Event | GapEvent] = []
        async with Room(
            DEFAULT_WEB_RID,
            upstream=sim.base_url,
            options=FAST,
            backoff=fast_backoff(),
            resume=checkpoint,
        ) as room:
            async for event in room:
                events.append(event)
                if len(events) == 10:
                    break
            assert room.status().gaps == 1
        gap = events[0]
        assert isinstance(gap, GapEvent), events[0]
        first = events[1]
        assert isinstance(first, Event)
        log = [int(e["msg_id"]) for e in sim.log(DEFAULT_WEB_RID)]
        missed = log.index(first.msg_id) - log.index(checkpoint.last_msg_id) - 1
        assert missed > 0 and gap.missed == missed
        assert all(not isinstance(e, GapEvent) for e in events[1:])
