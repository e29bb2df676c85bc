"""The token room limit (40301): counted over the rooms a token polled within idle_timeout;
a room idle for longer frees its place, and the reaper forgets idle rooms of every token."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from dylive.collect import RoomManager
from dylive.errors import RoomLimitReached
from dylive.serve.errors import ROOM_LIMIT, api_error
from dylive.source.room import RoomInfo
from dylive.store import SQLiteStore


def info(room_id: int) -> RoomInfo:
    return RoomInfo(web_rid=str(room_id), room_id=room_id, status=4)


async def never(ident: str) -> RoomInfo:
    raise AssertionError("no resolution in this test")


async def test_room_limit_counts_recent_rooms_only(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "l.db") as store:
        rooms = RoomManager(store, resolver=never, source_factory=None, idle_timeout=0.3)  # type: ignore[arg-type]
        rooms.touch(1, 2, info(10), False)
        rooms.touch(1, 2, info(11), False)
        rooms.touch(1, 2, info(10), False)  # a room already counted: always allowed
        with pytest.raises(RoomLimitReached) as exc:
            rooms.touch(1, 2, info(12), False)
        assert api_error(exc.value).kind is ROOM_LIMIT
        assert api_error(exc.value).kind.code == 40301
        rooms.touch(2, 2, info(12), False)  # another token has its own count
        deadline = time.monotonic() + 10
        while True:  # room 11 goes idle first once room 10 is polled again
            rooms.touch(1, 2, info(10), False)
            try:
                rooms.touch(1, 2, info(12), False)
                break
            except RoomLimitReached:
                assert time.monotonic() < deadline, "an idle room never freed its place"
                await asyncio.sleep(0.05)
        assert set(rooms._token_rooms[1]) == {10, 12}


async def test_reaper_forgets_idle_rooms_of_every_token(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "l.db") as store:
        rooms = RoomManager(store, resolver=never, source_factory=None, idle_timeout=0.2)  # type: ignore[arg-type]
        for token in range(5):
            rooms.touch(token, 0, info(100 + token), False)  # no limit: nothing is checked
        await rooms.start([])
        try:
            deadline = time.monotonic() + 10
            while any(rooms._token_rooms.values()):
                assert time.monotonic() < deadline, rooms._token_rooms
                await asyncio.sleep(0.05)
        finally:
            await rooms.stop()
