"""``dylive watch``: the view fits the terminal (no stale frames), logs go through the view's
console, viewers are a number, the 音浪榜 panel is there, gifts use the Room's delta; a bad
option shows the subcommand's usage."""

from __future__ import annotations

import asyncio
import io
import logging
import re

import pytest
from rich.console import Console

from dylive.cli import main
from dylive.decode import GiftEvent, RankEntry, RoomRankEvent, RoomStatsEvent, UserInfo
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.source.collector import Room
from dylive.source.watch_view import WatchState, run_view


def text_of(state: WatchState, room: Room, height: int, width: int = 100) -> list[str]:
    console = Console(file=io.StringIO(), width=width, height=height, color_system=None)
    console.print(state.render(room, height))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return str(out).splitlines()


def user(uid: int, name: str) -> UserInfo:
    return UserInfo(uid=uid, nickname=name)


def busy_state() -> WatchState:
    state = WatchState()
    state.feed(RoomStatsEvent(method="WebcastRoomStatsMessage", msg_id=1, room_id=1,
                              display_long="2174在线观众", display_value=2174))  # fmt: skip
    ranks = tuple(RankEntry(i, user(i, f"fan{i}"), score=1000 - i) for i in range(1, 9))
    state.feed(RoomRankEvent(method="WebcastRoomRankMessage", msg_id=2, room_id=1, ranks=ranks))
    for i in range(60):
        state._line(f"u{i}", f"message {i}", "cyan")
        state.feed(GiftEvent(method="WebcastGiftMessage", msg_id=100 + i, room_id=1,
                             user=user(i, f"g{i}"), gift_name="小心心", combo=True,
                             repeat_count=i + 1, delta=1))  # fmt: skip
    return state


@pytest.mark.parametrize("height", [20, 24, 40, 60])
def test_the_frame_fits_the_terminal(height: int) -> None:
    room = Room(DEFAULT_WEB_RID, upstream="http://127.0.0.1:9")
    lines = text_of(busy_state(), room, height)
    assert len(lines) <= height
    text = "\n".join(lines)
    assert "message 59" in text  # the newest chat line is shown


def test_viewers_number_ranking_panel_and_gift_deltas() -> None:
    room = Room(DEFAULT_WEB_RID, upstream="http://127.0.0.1:9")
    state = busy_state()
    text = "\n".join(text_of(state, room, 40))
    assert "viewers 2,174 " in text and "在线观众" not in text
    assert "音浪榜" in text and "fan1" in text and "999" in text
    assert re.search(r"gifts 60\b", text)  # the sum of the deltas
    dup = GiftEvent(method="WebcastGiftMessage", msg_id=5, room_id=1, user=user(1, "d"), delta=0)
    state.feed(dup)  # delta 0: a duplicate or stale combo step adds nothing
    assert state.gift_total == 60


async def test_logs_go_through_the_view_console(capsys: pytest.CaptureFixture[str]) -> None:
    async with SimServer(SimConfig(seed=2, rate=40.0, tick=0.05)) as sim:
        sink = io.StringIO()
        console = Console(file=sink, width=100, height=30, color_system=None)

        async def warn_then_end() -> None:
            await asyncio.sleep(0)
            logging.getLogger("dylive.test").warning("a warning during the view")
            sim.end(DEFAULT_WEB_RID)

        async with Room(DEFAULT_WEB_RID, upstream=sim.base_url) as room:
            ender = asyncio.get_running_loop().call_later(0.5, asyncio.ensure_future,
                                                           warn_then_end())  # fmt: skip
            await asyncio.wait_for(run_view(room, console), 60)
            ender.cancel()
    assert "a warning during the view" in sink.getvalue()
    assert "a warning during the view" not in capsys.readouterr().err


def test_a_bad_option_shows_the_subcommand_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["watch", DEFAULT_WEB_RID, "--bogus"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: dylive watch ")
    assert "unrecognized arguments: --bogus" in err
