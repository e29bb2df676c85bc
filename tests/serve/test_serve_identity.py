"""``dylive serve --proxy URL --user-agent UA``: resolution, the collector's HTTP and push traffic
and the ranklist all go through the proxy with that User-Agent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
from support.tee_proxy import TeeProxy

from dylive.cli import build_parser
from dylive.serve import tokens
from dylive.serve.cli import serve_config
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer

UA = "Mozilla/5.0 dylive-serve-test/2.0"


async def test_proxy_and_user_agent_options(tmp_path: Path, serve_api: Any) -> None:
    proxy = TeeProxy()
    await proxy.start()
    async with SimServer(SimConfig(seed=4, rate=40.0, tick=0.05)) as sim:
        argv = ["serve", "--db", str(tmp_path / "p.sqlite3"), "--upstream", sim.base_url]
        parsed = build_parser().parse_args([*argv, "--proxy", proxy.url, "--user-agent", UA])
        config = serve_config(parsed)
        assert (config.proxy, config.user_agent) == (proxy.url, UA)
        async with (
            serve_api(config) as (base, svc),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            token = await tokens.create(svc.store, "proxied")
            params = {"token": token, "room_id": DEFAULT_WEB_RID, "wait": 5}
            got = 0
            for _ in range(30):
                resp = await client.get("/douyin/liveroom/chat", params=params)
                assert resp.status_code == 200, resp.text
                data = orjson.loads(resp.content)["data"]
                got += len(data["messages"])
                params["cursor"] = data["cursor"]
                if got >= 5 and proxy.connects:
                    break
            assert got >= 5
            resp = await client.get(
                "/douyin/liveroom/audience", params={"token": token, "room_id": DEFAULT_WEB_RID}
            )
            assert resp.status_code == 200
    assert proxy.server is not None
    proxy.server.close()
    wire = bytes(proxy.sent)
    assert b"GET http://127.0.0.1:" in wire  # HTTP requests went through the proxy
    assert b"/webcast/room/web/enter/?" in wire and b"/webcast/ranklist/audience/?" in wire
    assert b"GET /webcast/im/push/v2/?" in wire  # the WebSocket went through CONNECT
    for req in wire.split(b"GET ")[1:]:
        head = req.split(b"\r\n\r\n", 1)[0].lower()
        assert b"user-agent: " + UA.lower().encode() in head, head[:200]
