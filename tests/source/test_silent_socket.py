"""Silent sockets (Douyin 2025-2026: a cookie-less push socket is acked, then carries only viewer
figures): detected from the room's visible life (moving viewer figures, im/fetch business),
reported as ``silent_socket``, and the room falls back to polling without losing a message."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from support.simkit import FAST, Run, collecting, compare, fast_backoff, wait_for

from dylive.errors import HandshakeRefused
from dylive.proto import webcast_pb2 as pb
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source.collector import Room
from dylive.source.failover import TransportPlan, failure_flag
from dylive.source.options import CollectorOptions
from dylive.source.reconnect import StaleConnection
from dylive.source.silence import SilenceWatch, SilentSocket
from dylive.wire.frames import RawMessage

SEQ, CHAT = "WebcastRoomUserSeqMessage", "WebcastChatMessage"


def seq_message(total: int) -> RawMessage:
    msg = pb.RoomUserSeqMessage(total=total, total_user=total * 3)
    return RawMessage(SEQ, total, msg.SerializeToString())


def test_moving_viewer_figures_make_a_quiet_socket_silent() -> None:
    watch = SilenceWatch(CollectorOptions(silent_socket_timeout=10.0, fake_alive_timeout=60.0))
    watch.start("push", now=0.0)
    watch.observe(seq_message(5), None, now=1.0)
    watch.check(now=11.0, room_id=1)  # one reading: nothing proves the room lives
    watch.observe(seq_message(5), None, now=2.0)
    watch.check(now=11.0, room_id=1)  # the same figures again
    watch.observe(seq_message(6), None, now=3.0)
    try:
        watch.check(now=11.0, room_id=1)
    except SilentSocket as exc:
        assert "silent socket" in str(exc)
    else:
        raise AssertionError("a live room's quiet socket was not found silent")
    # a business message resets the spell
    assert watch.observe(RawMessage(CHAT, 9, b""), None, now=12.0) is True
    watch.check(now=20.0, room_id=1)


def test_im_fetch_business_is_evidence_and_fake_alive_stays_without_it() -> None:
    opts = CollectorOptions(silent_socket_timeout=10.0, fake_alive_timeout=30.0)
    watch = SilenceWatch(opts)
    watch.start("push", now=0.0)
    watch.fetched([seq_message(1), RawMessage(CHAT, 2, b"")])
    assert watch.live_evidence
    try:
        watch.check(now=10.5, room_id=1)
    except SilentSocket:
        pass
    else:
        raise AssertionError("silent socket not detected")
    quiet = SilenceWatch(opts)
    quiet.start("push", now=0.0)
    quiet.fetched([seq_message(1)])
    quiet.check(now=29.0, room_id=1)  # nothing shows life: only the fake-alive limit
    try:
        quiet.check(now=31.0, room_id=1)
    except SilentSocket:
        raise AssertionError("fake-alive taken for a silent socket") from None
    except StaleConnection as exc:
        assert failure_flag(exc, "push") == "heartbeat_only"
    # polling is never a silent socket
    polled = SilenceWatch(opts)
    polled.start("poll", now=0.0)
    polled.fetched([RawMessage(CHAT, 2, b"")])
    polled.check(now=29.0, room_id=1)


def test_a_silent_socket_falls_back_at_once_and_push_waits_longer() -> None:
    opts = CollectorOptions(push_retry_after=30.0, silent_retry_after=300.0)
    plan = TransportPlan(opts)
    plan.learn("wss://a/", ("wss://a/", "wss://b/"))
    assert failure_flag(SilentSocket("x"), "push") == "silent_socket"
    assert plan.push_failed(refused=False, silent=True, polling_refused=False, now=0.0)
    assert plan.base("http://x") == "wss://a/"  # the identity is silenced, not the host
    assert plan.choose(now=100.0) == "poll" and not plan.retry_push_due("poll", now=299.0)
    assert plan.retry_push_due("poll", now=300.0)
    assert failure_flag(HandshakeRefused("5", "no"), "push") == "refused"


async def test_silent_cookieless_socket_falls_back_to_polling_without_loss() -> None:
    cfg = SimConfig(seed=8, rate=40.0, tick=0.05, heartbeat_timeout=5.0, ping_interval=None)
    opts = replace(FAST, silent_socket_timeout=0.6, fake_alive_timeout=30.0)
    async with SimServer(cfg) as sim:
        sim.set_era(DEFAULT_WEB_RID, silent_cookieless=True)
        room = Room(DEFAULT_WEB_RID, upstream=sim.base_url, options=opts, backoff=fast_backoff())
        run = Run()
        async with room:
            # What a client without cookies does: the push handshake carries none.
            assert room.info is not None
            room.info = replace(room.info, cookie="")
            async with collecting(room, run):
                assert await wait_for(lambda: "silent_socket" in room.degraded(), 10.0), (
                    room.status()
                )
                assert await wait_for(lambda: "polling" in room.degraded(), 5.0), room.status()
                await asyncio.sleep(0.5)
                sim.end(DEFAULT_WEB_RID)
                assert await wait_for(lambda: run.done, 10.0), room.status()
        log = sim.log(DEFAULT_WEB_RID)
        missing, dups = compare(log, run)
        assert missing == [] and dups == [] and not run.gaps
        assert int(log[-1]["msg_id"]) == run.events[-1].msg_id
        assert room.status().fallbacks >= 1


async def test_a_cookieless_socket_that_is_not_silenced_stays_on_push() -> None:
    cfg = SimConfig(seed=8, rate=40.0, tick=0.05, heartbeat_timeout=5.0, ping_interval=None)
    opts = replace(FAST, silent_socket_timeout=0.6, fake_alive_timeout=30.0)
    async with SimServer(cfg) as sim:
        room = Room(DEFAULT_WEB_RID, upstream=sim.base_url, options=opts, backoff=fast_backoff())
        run = Run()
        async with room:
            assert room.info is not None
            room.info = replace(room.info, cookie="")
            async with collecting(room, run):
                assert await wait_for(lambda: len(run.events) > 80, 10.0), room.status()
                assert await wait_for(lambda: room.status().messages_per_s > 0, 5.0)
                conns = sim.connections(DEFAULT_WEB_RID)
                assert conns and conns[0]["cookieless"] and not conns[0]["silenced"]
        assert "silent_socket" not in room.degraded() and room.status().fallbacks == 0
        assert room.status().transport == "push"
