"""Every simulator fault mode: the collector's output vs the ground-truth log, zero loss/dups."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from support.simkit import FAST, Run, collecting, compare, fast_backoff, wait_for

from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source.collector import Room

RATE = 40.0


async def run_with_faults(
    faults: dict[str, Any], *, seconds: float = 1.5, before_open: bool = False, **cfg: Any
) -> tuple[Run, Room, SimServer, dict[str, Any]]:
    """Collect one room with ``faults`` on for ``seconds``, then clear them and end the room."""
    config = SimConfig(seed=3, rate=RATE, heartbeat_timeout=3.0, **cfg)
    async with SimServer(config) as sim:
        if before_open:
            sim.set_faults(DEFAULT_WEB_RID, **faults)
        room = Room(DEFAULT_WEB_RID, upstream=sim.base_url, options=FAST, backoff=fast_backoff())
        run = Run()
        async with room, collecting(room, run):
            if not before_open:
                sim.set_faults(DEFAULT_WEB_RID, **faults)
            await asyncio.sleep(seconds)
            sim.set_faults(DEFAULT_WEB_RID, reset=True)
            await asyncio.sleep(0.3)
            sim.end(DEFAULT_WEB_RID)
            assert await wait_for(lambda: run.done, 10.0), room.status()
        return run, room, sim, sim.stats()


def assert_exact(run: Run, sim: SimServer) -> None:
    log = sim.log(DEFAULT_WEB_RID)
    missing, dups = compare(log, run)
    assert not run.gaps, run.gaps
    assert missing == [] and dups == []
    assert run.events[-1].method == "WebcastControlMessage"
    assert int(log[-1]["msg_id"]) == run.events[-1].msg_id  # nothing lost at the end
    assert len(run.events) >= RATE  # a real run, not a trivially empty one


@pytest.mark.parametrize(
    ("faults", "stat"),
    [
        ({"drop_every": 0.4}, None),
        ({"corrupt": 0.2}, "corrupt_frames"),
        ({"unknown_methods": 0.3}, None),
        ({"duplicates": 0.4}, "duplicates_sent"),
        ({"out_of_order": 0.4}, "reordered_frames"),
    ],
    ids=["drop", "corrupt", "unknown", "duplicates", "out_of_order"],
)
async def test_push_faults_zero_loss(faults: dict[str, Any], stat: str | None) -> None:
    run, room, sim, stats = await run_with_faults(faults)
    assert_exact(run, sim)
    st = room.status()
    if stat is not None:
        assert stats[stat] > 0, stats
    if "drop_every" in faults or "corrupt" in faults:
        assert st.reconnects >= 1
    if "duplicates" in faults:
        assert st.duplicates >= 1
    if "unknown_methods" in faults:
        assert any(
            e.method not in e.__class__.__name__ and "Unknown" in type(e).__name__
            for e in run.events
        )


async def test_handshake_refused_falls_back_to_polling() -> None:
    run, room, sim, stats = await run_with_faults({"refuse_handshake": True}, before_open=True)
    assert_exact(run, sim)
    st = room.status()
    assert st.refusals >= 1 and st.fallbacks >= 1
    assert stats["handshakes_refused"] >= 1


@pytest.mark.parametrize(
    "faults",
    [{"http_5xx": 0.4}, {"http_empty": 0.4}, {"slow_ms": 150}],
    ids=["http_5xx", "http_empty", "slow"],
)
async def test_http_faults_zero_loss(faults: dict[str, Any]) -> None:
    run, _room, sim, _ = await run_with_faults(faults, before_open=True)
    assert_exact(run, sim)


async def test_http_faults_while_polling() -> None:
    faults = {"refuse_handshake": True, "http_5xx": 0.3, "http_empty": 0.3}
    run, room, sim, _ = await run_with_faults(faults, seconds=2.0)
    assert_exact(run, sim)
    assert room.status().fallbacks >= 1


async def test_fake_alive_detected_and_recovered() -> None:
    run, room, sim, _ = await run_with_faults({"fake_alive": True}, seconds=2.5)
    assert_exact(run, sim)
    st = room.status()
    assert st.reconnects >= 1
    assert "fake-alive" in st.error or st.fallbacks >= 1


async def test_silent_socket_detected() -> None:
    from dataclasses import replace

    config = SimConfig(seed=4, rate=RATE, heartbeat_timeout=30.0)
    opts = replace(FAST, heartbeat_interval=20.0, silence_timeout=0.5, fake_alive_timeout=30.0)
    async with SimServer(config) as sim:
        room = Room(DEFAULT_WEB_RID, upstream=sim.base_url, options=opts, backoff=fast_backoff())
        run = Run()
        async with room, collecting(room, run):
            await asyncio.sleep(0.5)
            sim.set_rate(DEFAULT_WEB_RID, 0.0)
            assert await wait_for(lambda: "silent" in room.status().error, 5.0), room.status()
            sim.set_rate(DEFAULT_WEB_RID, RATE)
            await asyncio.sleep(0.5)
            sim.end(DEFAULT_WEB_RID)
            assert await wait_for(lambda: run.done, 10.0)
        assert_exact(run, sim)
        assert room.status().reconnects >= 1


async def test_outage_longer_than_replay_is_a_gap() -> None:
    config = SimConfig(seed=5, rate=60.0, heartbeat_timeout=3.0, replay_max=10)
    async with SimServer(config) as sim:
        room = Room(DEFAULT_WEB_RID, upstream=sim.base_url, options=FAST, backoff=fast_backoff())
        run = Run()
        async with room, collecting(room, run):
            await asyncio.sleep(0.5)
            # nothing works: push refused, every HTTP request fails, and the socket is dropped
            sim.set_faults(DEFAULT_WEB_RID, refuse_handshake=True, http_5xx=1.0, drop_every=0.01)
            await asyncio.sleep(1.5)
            sim.set_faults(DEFAULT_WEB_RID, reset=True)
            await asyncio.sleep(1.0)
            sim.end(DEFAULT_WEB_RID)
            assert await wait_for(lambda: run.done, 10.0), room.status()
        missing, dups = compare(sim.log(DEFAULT_WEB_RID), run)
        assert dups == []
        assert missing, "the outage was longer than the replay buffer: something must be missing"
        assert run.gaps and room.status().gaps == len(run.gaps)
        seqs = {int(e["msg_id"]): e["seq"] for e in sim.log(DEFAULT_WEB_RID)}
        assert sum(g.missed for g in run.gaps) == len(missing), (
            str([seqs[m] for m in missing][-30:]),
            run.gaps,
        )


async def test_every_frame_is_acked() -> None:
    """The ack written straight to the transport (push._write_now) reaches the server: its
    acked position follows the position it sent, and it counted one ack per frame."""
    config = SimConfig(seed=6, rate=RATE, heartbeat_timeout=30.0)
    async with SimServer(config) as sim:
        at_once = replace(FAST, ack_delay=0.0)
        room = Room(DEFAULT_WEB_RID, upstream=sim.base_url, options=at_once, backoff=fast_backoff())
        run = Run()
        async with room, collecting(room, run):
            assert await wait_for(lambda: len(run.events) >= 2 * RATE, 10.0), room.status()

            def caught_up() -> bool:
                conns = sim.connections(DEFAULT_WEB_RID)
                return bool(conns) and 0 < conns[0]["acked_position"] == conns[0]["position"]

            assert await wait_for(caught_up, 5.0), sim.connections(DEFAULT_WEB_RID)
            conn = sim.connections(DEFAULT_WEB_RID)[0]
            assert sim.stats()["acks_received"] >= conn["frames"] - 1 > 0


async def test_delayed_acks_share_writes_and_none_is_lost() -> None:
    """With ``ack_delay`` (acks share socket writes: tests/source/test_push_acks.py) every frame
    is still acked, a delay later."""
    config = SimConfig(seed=6, rate=RATE, heartbeat_timeout=30.0)
    async with SimServer(config) as sim:
        batched = replace(FAST, ack_delay=0.4, heartbeat_interval=30.0)
        room = Room(DEFAULT_WEB_RID, upstream=sim.base_url, options=batched, backoff=fast_backoff())
        run = Run()
        async with room, collecting(room, run):
            assert await wait_for(lambda: len(run.events) >= 2 * RATE, 10.0), room.status()
            sent = sim.connections(DEFAULT_WEB_RID)[0]  # what the server had sent by now

            def acked_up_to_then() -> bool:
                conns = sim.connections(DEFAULT_WEB_RID)
                return bool(conns) and conns[0]["acked_position"] >= sent["position"] > 0

            assert await wait_for(acked_up_to_then, 5.0), sim.connections(DEFAULT_WEB_RID)
            assert sim.stats()["acks_received"] >= sent["frames"] > 0
