"""WebSocket limits: client frames are capped at a few KiB on every WebSocket route (1009 before
the frame is buffered), a token holds a bounded number of feeds (40302), and a text frame that
is not UTF-8 closes the feed with 1007 and one log line.

Reproductions (issue #22): a client with a valid token made the server buffer 16 MiB frames
(12 clients: RSS 92 → 458 MB); an invalid-UTF-8 text frame on a feed logged a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from support.edgekit import (
    STACKS,
    RawFeed,
    client_frame,
    envelope,
    exchange,
    offline,
    served,
    until,
    ws_handshake,
)

from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.serve.feed_quota import FeedQuota
from dylive.serve.limits import WS_MAX_BYTES
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer

WEB_RID = DEFAULT_WEB_RID
TEXT = 0x1


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[ServiceConfig]:
    """The service against the simulator (one live room)."""
    async with SimServer(SimConfig(seed=7, rate=5.0)) as sim:
        yield ServiceConfig(db=str(tmp_path / "ws.sqlite3"), upstream=sim.base_url, signing="off")


async def feed_paths(app: object, token: str) -> list[str]:
    """Both WebSocket routes for the simulator's live room."""
    return [f"/api/rooms/{WEB_RID}/ws?token={token}", f"/ws/{WEB_RID}?token={token}"]


async def opened(port: int, path: str) -> RawFeed:
    """A feed past its first server frame (hello / status), so the app is reading."""
    feed = await RawFeed.open(port, path)
    opcode, _ = await feed.frame()
    assert opcode == TEXT
    return feed


@pytest.mark.parametrize("http", STACKS)
async def test_client_frames_over_the_cap_close_1009(live: ServiceConfig, http: str) -> None:
    async with served(live, http) as (port, app):
        token = await tokens.create(app.state.svc.store, "t")
        for path in await feed_paths(app, token):
            # a small frame is still served: the douyinLive ping
            feed = await opened(port, path)
            await feed.send(client_frame(TEXT, b"ping"))
            if path.startswith("/ws/"):
                assert (await feed.frame()) == (TEXT, b"pong")
            # a 16 MiB frame is refused from its header: nothing of it needs to arrive
            await feed.send(client_frame(TEXT, b"x" * 1024, length=16 * 1024 * 1024))
            _texts, code = await feed.texts_until_close()
            assert code == 1009, path
            feed.close()
            # just over the cap, complete
            feed = await opened(port, path)
            await feed.send(client_frame(TEXT, b"x" * (WS_MAX_BYTES + 1)))
            assert (await feed.texts_until_close())[1] == 1009
            feed.close()


@pytest.mark.parametrize("http", STACKS)
async def test_a_text_frame_that_is_not_utf8_closes_1007_in_one_line(
    live: ServiceConfig, http: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with served(live, http) as (port, app):
        token = await tokens.create(app.state.svc.store, "t")
        for path in await feed_paths(app, token):
            feed = await opened(port, path)
            await feed.send(client_frame(TEXT, b"\xff\xfe not utf-8"))
            assert (await feed.texts_until_close())[1] == 1007, path
            feed.close()
        await until(lambda: caplog.text.count("not UTF-8") == 2, what="two log lines")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "Traceback" not in caplog.text
    lines = [r for r in caplog.records if "not UTF-8" in r.getMessage()]
    assert all(r.exc_info is None and r.levelno == logging.INFO for r in lines)


async def test_a_token_holds_a_bounded_number_of_feeds(live: ServiceConfig) -> None:
    async with served(live, "httptools") as (port, app):
        app.state.feed_quota = quota = FeedQuota(2)
        token = await tokens.create(app.state.svc.store, "t")
        other = await tokens.create(app.state.svc.store, "other")
        dylive_path, douyinlive_path = await feed_paths(app, token)
        held = [await opened(port, dylive_path), await opened(port, douyinlive_path)]
        for path in (dylive_path, douyinlive_path):
            refused = await RawFeed.open(port, path)
            texts, code = await refused.texts_until_close()
            refused.close()
            assert code == 4403 and orjson.loads(texts[0])["code"] == 40302, (texts, code)
        # another token is not affected
        (await opened(port, f"/ws/{WEB_RID}?token={other}")).close()
        # a slot frees when a feed ends
        held.pop().close()
        await until(lambda: quota.open.get(1, 0) < 2 and quota.open.get(2, 0) == 0)
        held.append(await opened(port, douyinlive_path))
        for feed in held:
            feed.close()
        await until(lambda: not quota.open, what="every slot released")


@pytest.mark.parametrize("http", STACKS)
async def test_refused_handshakes_are_envelopes(tmp_path: Path, http: str) -> None:
    """What the WebSocket layer refuses before the app (it was plain text) is enveloped too."""
    async with served(offline(tmp_path), http) as (port, _app):
        hello = ws_handshake(f"/ws/{WEB_RID}?token=x", port)
        probes = [
            (hello.replace(b"Version: 13", b"Version: 99"), 40007),
            (hello.replace(b"\r\n\r\n", b"\r\nX-A: " + b"a" * 10_000 + b"\r\n\r\n"), 43101),
            (
                hello.replace(
                    b"\r\n\r\n", b"".join(b"\r\nX-%d: a" % i for i in range(200)) + b"\r\n\r\n"
                ),
                43101,
            ),
        ]
        for raw, code in probes:
            _, body = envelope(await exchange(port, raw))
            assert body["code"] == code, body
