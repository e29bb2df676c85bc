"""Fixtures of the simulator tests: a real SimServer on 127.0.0.1:0 and a spec-only push client.

The client uses only the spec's building blocks (websockets, the frame codec, the sans-I/O
session, the push signer), never the collector.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
import websockets

from dylive.sim import SimConfig, SimServer
from dylive.wire.frames import RawMessage
from dylive.wire.session import PushSession
from dylive.wire.signing import sign_push

TEENIE = "615189692839"
TEENIE_ROOM_ID = 6922580638159719176
UID = "7300000000000000001"


def push_params(room_id: int, *, cursor: str = "", internal_ext: str = "") -> dict[str, str]:
    """The browser's push query (douyin-protocol.md §2), signed."""
    params = {
        "app_name": "douyin_web",
        "version_code": "180800",
        "webcast_sdk_version": "1.0.14-beta.0",
        "update_version_code": "1.0.14-beta.0",
        "compress": "gzip",
        "device_platform": "web",
        "cookie_enabled": "true",
        "browser_language": "zh-CN",
        "browser_platform": "Win32",
        "browser_name": "Mozilla",
        "browser_online": "true",
        "tz_name": "Asia/Shanghai",
        "cursor": cursor,
        "internal_ext": internal_ext,
        "host": "https://live.douyin.com",
        "aid": "6383",
        "live_id": "1",
        "did_rule": "3",
        "endpoint": "live_pc",
        "support_wrds": "1",
        "user_unique_id": UID,
        "im_path": "/webcast/im/fetch/",
        "identity": "audience",
        "need_persist_msg_count": "15",
        "room_id": str(room_id),
        "heartbeatDuration": "0",
    }
    params["signature"] = sign_push(params)
    return params


@dataclass
class Received:
    """What one spec client got: messages in wire order, raw frames, parse errors."""

    messages: list[RawMessage] = field(default_factory=list)
    frames: int = 0
    errors: list[Exception] = field(default_factory=list)
    closed_by_server: bool = False
    close_code: int | None = None

    @property
    def ids(self) -> list[int]:
        return [m.msg_id for m in self.messages]


class SpecClient:
    """A minimal Douyin push client: heartbeats, acks, cursor tracking."""

    def __init__(self, sim: SimServer, room_id: int, *, heartbeat: float | None = 0.2) -> None:
        self.sim = sim
        self.room_id = room_id
        self.session = PushSession()
        self.heartbeat = heartbeat
        self.got = Received()

    def url(self, cursor: str = "", internal_ext: str = "", **extra: str) -> str:
        params = push_params(self.room_id, cursor=cursor, internal_ext=internal_ext)
        params.update(extra)
        return f"{self.sim.push_url}?{urlencode(params)}"

    async def run(
        self,
        seconds: float,
        *,
        cursor: str = "",
        internal_ext: str = "",
        until: Callable[[Received], bool] | None = None,
    ) -> Received:
        """Connect, read for up to ``seconds`` (or until ``until``), then disconnect."""
        async with websockets.connect(self.url(cursor, internal_ext), max_size=None) as ws:
            hb = asyncio.create_task(self._beat(ws)) if self.heartbeat else None
            try:
                async with asyncio.timeout(seconds):
                    await self._read(ws, until)
            except TimeoutError:
                pass
            finally:
                if hb is not None:
                    hb.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await hb
        return self.got

    async def _beat(self, ws: Any) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await ws.send(self.session.heartbeat())
                await asyncio.sleep(self.heartbeat or 1.0)

    async def _read(self, ws: Any, until: Callable[[Received], bool] | None) -> None:
        try:
            async for data in ws:
                self.got.frames += 1
                try:
                    self.got.messages.extend(self.session.receive_frame(data))
                except Exception as exc:  # FrameError / ResponseError: record and go on
                    self.got.errors.append(exc)
                for out in self.session.data_to_send():
                    with contextlib.suppress(websockets.ConnectionClosed):
                        await ws.send(out)  # the socket may be closing: keep reading
                if self.session.closed_by_server:
                    self.got.closed_by_server = True
                if until is not None and until(self.got):
                    return
        except websockets.ConnectionClosed:
            pass
        self.got.close_code = ws.close_code


@pytest.fixture
def sim_factory() -> Callable[..., Any]:
    @contextlib.asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[SimServer]:
        cfg = SimConfig(
            seed=overrides.pop("seed", 7),
            rate=overrides.pop("rate", 40.0),
            tick=overrides.pop("tick", 0.05),
            heartbeat_timeout=overrides.pop("heartbeat_timeout", 5.0),
            ping_interval=overrides.pop("ping_interval", None),
            ping_timeout=overrides.pop("ping_timeout", None),
            **overrides,
        )
        async with SimServer(cfg) as sim:
            yield sim

    return make


@pytest.fixture
async def sim(sim_factory: Callable[..., Any]) -> AsyncIterator[SimServer]:
    async with sim_factory() as server:
        yield server


def log_slice(sim: SimServer, web_rid: str, ids: list[int]) -> list[int]:
    """The log's msg_ids from the first to the last of ``ids`` (inclusive), in log order."""
    log_ids = [e["msg_id"] for e in sim.log(web_rid)]
    lo, hi = log_ids.index(min(ids, key=log_ids.index)), log_ids.index(max(ids, key=log_ids.index))
    return log_ids[lo : hi + 1]


@pytest.fixture
def kit() -> Any:
    class Kit:
        TEENIE = TEENIE
        TEENIE_ROOM_ID = TEENIE_ROOM_ID
        UID = UID
        SpecClient = SpecClient
        push_params = staticmethod(push_params)
        log_slice = staticmethod(log_slice)

    return Kit
