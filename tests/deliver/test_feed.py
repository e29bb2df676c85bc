"""The WebSocket feed against the simulator: frames in seq order, resume from a cursor with no gap
and no repeat, a stalled client closed with 4008 while others keep receiving, error closes, and
the douyinLive-compatible path."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.deliverkit import RawWebSocket
from support.service import serving
from support.waiting import until
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from dylive.deliver.feed import FeedSettings
from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.store import Record

FEED = f"/api/rooms/{DEFAULT_WEB_RID}/ws"


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[str, Any, str, Any]]:
    async with SimServer(SimConfig(seed=5, rate=60.0, tick=0.05)) as sim:
        config = ServiceConfig(
            db=str(tmp_path / "f.sqlite3"),
            upstream=sim.base_url,
            feed_settings=FeedSettings(send_timeout=4.0, heartbeat=0.5),
            douyinlive_token="compat",
        )
        async with serving(config) as (base, svc):
            token = await tokens.create(svc.store, "feed")
            yield base.replace("http://", "ws://"), svc, token, sim
            with contextlib.suppress(Exception):
                sim.end(DEFAULT_WEB_RID)


async def frames(ws: ClientConnection, messages: int, within: float = 30) -> list[dict[str, Any]]:
    """Frames until ``messages`` messages arrived in ``messages`` frames."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(within):
        while sum(len(f.get("messages", [])) for f in out) < messages:
            out.append(orjson.loads(await ws.recv()))
    return out


async def stored_ids(svc: Any, after: int) -> list[int]:
    page = await svc.store.read(DEFAULT_ROOM_ID, after, 100_000, None)
    return [m.msg_id for m in page.messages]


async def test_feed_resumes_from_a_cursor_without_gap_or_repeat(live: Any) -> None:
    base, svc, token, _ = live
    protocols: Any = ["dylive", f"bearer.{token}"]
    async with connect(f"{base}{FEED}?methods=all", subprotocols=protocols) as ws:
        assert ws.subprotocol == "dylive"
        hello = orjson.loads(await ws.recv())
        assert hello["type"] == "hello" and hello["room_id"] == DEFAULT_ROOM_ID
        first = await frames(ws, 40)
    batches = [f for f in first if f["type"] == "messages"]
    cursor, last = batches[-1]["cursor"], batches[-1]["last_seq"]
    await until(lambda: _more(svc, last, 30), what="messages stored while disconnected")
    async with connect(f"{base}{FEED}?methods=all&token={token}&cursor={cursor}") as ws:
        assert orjson.loads(await ws.recv())["last_seq"] == last
        second = await frames(ws, 40)
    got = [m["msg_id"] for f in first + second for m in f.get("messages", [])]
    expected = await stored_ids(svc, hello["last_seq"])
    assert got == expected[: len(got)]  # every message once, in seq order, across the reconnect
    beats = [f for f in second if f["type"] == "heartbeat"]
    assert all(f["type"] in {"messages", "heartbeat", "live_status"} for f in first + second)
    assert svc.feeds.dylive.resumed >= 1 and (beats or len(second) > 0)


async def _more(svc: Any, after: int, count: int) -> bool:
    return len(await stored_ids(svc, after)) >= count


async def test_a_stalled_client_is_closed_with_4008_and_others_keep_up(live: Any) -> None:
    base, svc, token, _ = live
    url = f"{base}{FEED}?methods=all&token={token}"
    stalled = await RawWebSocket.open(base, f"{FEED}?methods=all&token={token}")
    async with connect(url, max_size=None) as healthy:
        await healthy.recv()
        seen: set[int] = set()
        reading = asyncio.create_task(_read_ids(healthy, seen))
        try:
            sent: set[int] = set()
            for batch in range(200):  # until the stalled client is closed (bounded)
                if svc.feeds.dylive.slow_closed:
                    break
                ids = [10**15 + batch * 10 + i for i in range(10)]
                await svc.store.append(
                    [Record(DEFAULT_ROOM_ID, i, "WebcastChatMessage", 1, _big(i)) for i in ids]
                )
                sent.update(ids)
                await until(lambda: sent <= seen, what="the healthy client keeps up")
            assert svc.feeds.dylive.slow_closed == 1
            code, reason = await stalled.close_code()  # everything queued, then the close
            assert code == 4008 and "slow client" in reason
        finally:
            stalled.close()
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await reading


async def _read_ids(ws: ClientConnection, seen: set[int]) -> None:
    while True:
        frame = orjson.loads(await ws.recv())
        seen.update(m["msg_id"] for m in frame.get("messages", []))


def _big(msg_id: int) -> bytes:
    return orjson.dumps({"method": "WebcastChatMessage", "msg_id": msg_id, "pad": "x" * 60_000})


@pytest.mark.parametrize(
    ("query", "code", "close"),
    [("", 40001, 4401), ("?token=dyl_nope", 40002, 4401), ("?token=$T&count=-1", 40005, 4400)],
)
async def test_feed_errors_close_with_the_envelope(
    live: Any, query: str, code: int, close: int
) -> None:
    base, _, token, _ = live
    async with connect(f"{base}{FEED}{query.replace('$T', token)}") as ws:
        frame = orjson.loads(await ws.recv())
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert frame["type"] == "error" and frame["code"] == code
    assert closed.value.rcvd is not None and closed.value.rcvd.code == close


async def test_douyinlive_path_sends_its_frames(live: Any) -> None:
    base, svc, token, sim = live
    await svc.store.create_token("compat", tokens.digest("unused-secret-compat"), 0, 0.0)
    async with connect(f"{base}/ws/{DEFAULT_WEB_RID}") as ws:  # no token: --douyinlive-token
        status = orjson.loads(await ws.recv())
        assert status["type"] == "system" and status["code"] == "ROOM_ONLINE"
        assert status["live"] is True and status["room_id"] == DEFAULT_WEB_RID
        business: list[dict[str, Any]] = []
        await ws.send("ping")
        pong = False
        async with asyncio.timeout(30):
            while len(business) < 20 or not pong:
                raw = await ws.recv()
                if raw == "pong":
                    pong = True
                    continue
                business.append(orjson.loads(raw))
        sim.end(DEFAULT_WEB_RID)
        async with asyncio.timeout(30):  # the broadcast ends: ROOM_ENDED, the socket stays open
            while (frame := orjson.loads(await ws.recv())).get("type") != "system":
                assert frame["method"]
        assert frame["code"] == "ROOM_ENDED" and frame["ended"] is True
        await ws.send("ping")
        async with asyncio.timeout(30):
            while await ws.recv() != "pong":
                pass
    assert all({"method", "livename", "title", "avatarThumb"} <= set(f) for f in business)
    chats = [f for f in business if f["method"] == "WebcastChatMessage"]
    assert chats, "no chat frame"
    chat = chats[0]
    assert isinstance(chat["common"]["msgId"], str) and chat["common"]["msgId"].isdigit()
    assert chat["user"]["nickname"] and isinstance(chat["content"], str)
    async with connect(f"{base}/ws/999999999999?token={token}") as ws:
        gone = orjson.loads(await ws.recv())
        with pytest.raises(ConnectionClosed):
            await ws.recv()
    assert gone["code"] == "ROOM_NOT_FOUND" and gone["valid"] is False
