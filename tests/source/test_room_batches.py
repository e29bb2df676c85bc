"""``Room.batches()``: the same items as the per-item iterator, a delivery at a time, each with
the checkpoints before and after it (the service's path into ingestion)."""

from __future__ import annotations

from support.simkit import FAST, Run, compare, fast_backoff, wait_for

from dylive.decode import Event
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source.collector import Room
from dylive.source.gaps import GapEvent
from dylive.source.transport import Checkpoint

CFG = SimConfig(seed=11, rate=40.0, heartbeat_timeout=3.0)


async def test_batches_chain_their_checkpoints_and_cover_the_log() -> None:
    async with SimServer(CFG) as sim:
        room = Room(DEFAULT_WEB_RID, upstream=sim.base_url, options=FAST, backoff=fast_backoff())
        run, batches = Run(), 0
        async with room:
            previous = room.checkpoint
            assert not previous  # nothing handed out yet
            async for items, before, after in room.batches():
                assert items, "a delivery without items only moves the checkpoint"
                # ``before`` is where the previous batch left the room (or a delivery without
                # items moved it since): never behind the last batch's end
                assert before == previous or before.cursor != previous.cursor
                assert room.checkpoint == after and isinstance(after, Checkpoint)
                last = next((i.msg_id for i in reversed(items) if not isinstance(i, GapEvent)), 0)
                assert after.last_msg_id == (last or before.last_msg_id)
                run.events += [i for i in items if isinstance(i, Event)]
                run.gaps += [i for i in items if isinstance(i, GapEvent)]
                previous, batches = after, batches + 1
                if len(run.events) >= 200:
                    break
        assert batches < len(run.events), "several items a delivery: the test proves nothing"
        assert await wait_for(lambda: len(sim.log(DEFAULT_WEB_RID)) >= 200, 10.0)
        missing, dups = compare(sim.log(DEFAULT_WEB_RID), run)
        assert missing == [] and dups == [] and run.gaps == []
