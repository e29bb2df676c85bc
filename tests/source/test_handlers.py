"""The handler style of dylive.Room against the simulator: sync and async handlers, connect /
disconnect / live-end events in order, gift streaks (``delta``, ``streak_end``), stop(), run()."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest
from support.simkit import FAST, fast_backoff

import dylive
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer

CFG = SimConfig(seed=9, rate=40.0, tick=0.05, heartbeat_timeout=3.0)


def room_of(sim: SimServer, **kw: Any) -> dylive.Room:
    return dylive.Room(
        DEFAULT_WEB_RID, upstream=sim.base_url, options=FAST, backoff=fast_backoff(), **kw
    )


async def test_handlers_see_messages_gifts_and_the_live_end_in_order() -> None:
    async with SimServer(CFG) as sim:
        room = room_of(sim)
        seen: list[Any] = []
        chats: list[str] = []
        gifts: dict[tuple[int, int, int], list[dylive.GiftEvent]] = defaultdict(list)

        @room.on(dylive.ConnectEvent)
        def connected(event: dylive.ConnectEvent) -> None:
            seen.append(event)

        @room.on(dylive.ChatEvent)
        async def chat(event: dylive.ChatEvent) -> None:  # async handlers are awaited
            await asyncio.sleep(0)
            chats.append(event.content)
            if len(chats) == 5:
                sim.inject(DEFAULT_WEB_RID, "WebcastGiftMessage", gift_id=463, count=7)
                sim.inject(DEFAULT_WEB_RID, "WebcastGiftMessage", gift_id=3242)
            if len(chats) == 40:
                sim.end(DEFAULT_WEB_RID)

        @room.on(dylive.GiftEvent)
        def gift(event: dylive.GiftEvent) -> None:
            gifts[(event.user.uid, event.gift_id, event.group_id)].append(event)

        @room.on(dylive.Event)
        def every(event: dylive.Event) -> None:
            seen.append(event)

        @room.on(dylive.LiveEndEvent)
        def ended(event: dylive.LiveEndEvent) -> None:
            seen.append(event)

        await asyncio.wait_for(room.start(), 60)  # returns when the broadcast ends

    assert isinstance(seen[0], dylive.ConnectEvent) and seen[0].transport in ("push", "poll")
    assert isinstance(seen[-1], dylive.LiveEndEvent)
    assert isinstance(seen[-2], dylive.ControlEvent) and seen[-2].ended
    assert seen[-1].room_id == seen[0].room_id
    assert len(chats) >= 40
    assert gifts, "no gifts arrived"
    finished = 0
    for streak in gifts.values():
        assert all(g.delta is not None and g.delta >= 0 for g in streak)
        if streak[-1].streak_end:  # a whole streak: the deltas add up to its final count
            finished += 1
            assert sum(g.delta or 0 for g in streak) == max(g.count for g in streak)
            assert not any(g.streak_end for g in streak[:-1])
    assert finished >= 2
    assert any(len(s) >= 7 and all(g.delta == 1 for g in s) for s in gifts.values())


async def test_a_dropped_connection_is_a_disconnect_then_a_connect() -> None:
    async with SimServer(CFG) as sim:
        room = room_of(sim)
        lifecycle: list[Any] = []

        @room.on(dylive.ConnectEvent)
        @room.on(dylive.DisconnectEvent)
        def record(event: Any) -> None:
            lifecycle.append(event)
            if len(lifecycle) == 1:
                sim.set_faults(DEFAULT_WEB_RID, drop_every=0.3)
            if len(lifecycle) >= 3:
                room.stop()

        await asyncio.wait_for(room.start(), 60)

    kinds = [type(e).__name__ for e in lifecycle]
    assert kinds[:3] == ["ConnectEvent", "DisconnectEvent", "ConnectEvent"], kinds
    assert kinds[-1] == "DisconnectEvent" and lifecycle[-1].reason == "stopped"


async def test_stop_from_a_handler_and_handler_errors_do_not_stop_the_room(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with SimServer(CFG) as sim:
        room = room_of(sim)
        count = 0

        @room.on(dylive.Event)
        def broken(event: dylive.Event) -> None:
            raise ValueError("a bug in a handler")

        @room.on(dylive.Event)
        def counting(event: dylive.Event) -> None:
            nonlocal count
            count += 1
            if count == 10:
                room.stop()

        async with room:  # start() inside `async with` uses the open room
            await asyncio.wait_for(room.start(), 60)
            assert room.info is not None and room.info.web_rid == DEFAULT_WEB_RID
    assert count >= 10
    assert "a bug in a handler" in caplog.text


def test_on_takes_event_classes_only() -> None:
    room = dylive.Room(DEFAULT_WEB_RID, upstream="http://127.0.0.1:9")
    with pytest.raises(TypeError):
        room.on(int)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        room.on(dylive.ChatEvent)(42)  # type: ignore[arg-type]


async def test_run_blocks_until_the_broadcast_ends() -> None:
    async with SimServer(CFG) as sim:
        room = room_of(sim)
        got: list[str] = []
        loop = asyncio.get_running_loop()

        @room.on(dylive.ChatEvent)
        def chat(event: dylive.ChatEvent) -> None:
            got.append(event.content)
            if len(got) == 3:  # run() has its own event loop, in another thread here
                loop.call_soon_threadsafe(sim.end, DEFAULT_WEB_RID)

        await asyncio.wait_for(asyncio.to_thread(room.run), 60)
    assert len(got) >= 3
