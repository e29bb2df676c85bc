"""The dashboard shows the broadcast's figures, not only what the page happened to see: opened in
the middle of a broadcast, its diamonds and gift table stand on the session report (gifts stored
before the page opened included) and equal the report's at the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from support.browser import chromium, needs_chromium, poll_page
from support.service import end_broadcast
from support.waiting import until

from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer

pytestmark = needs_chromium

FIGURES = """JSON.stringify({
  summary: window.dylive.summary(),
  diamonds: document.getElementById('diamonds').dataset.value || null,
  totals: [...document.querySelectorAll('#gift-totals tr')].map(tr => [...tr.children].map(td => td.textContent)),
  caption: document.getElementById('gift-summary').textContent,
})"""


async def test_the_broadcasts_figures_live(tmp_path: Path, serve_api: Any) -> None:
    async with SimServer(SimConfig(seed=13, rate=40.0, tick=0.1)) as sim:
        config = ServiceConfig(
            db=str(tmp_path / "b.sqlite3"), upstream=sim.base_url, signing="v2",
            pins=[DEFAULT_WEB_RID],
        )  # fmt: skip
        async with (
            serve_api(config) as (base, svc),
            chromium(tmp_path / "profile") as page,
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            token = await tokens.create(svc.store, "broadcast")
            auth = {"token": token}

            async def report() -> dict[str, Any] | None:
                r = await client.get(f"/api/rooms/{DEFAULT_WEB_RID}/sessions", params=auth)
                sessions = r.json()["data"]["sessions"]
                if not sessions:
                    return None
                rep = await client.get(f"/api/sessions/{sessions[0]['id']}/report", params=auth)
                data: dict[str, Any] = rep.json()["data"]
                return data

            async def diamonds_stored() -> bool:
                rep = await report()
                return bool(rep and rep["gift_diamonds"] > 0)

            await until(diamonds_stored, 40, "gifts stored before the page opens")
            await page.call("Runtime.enable")
            await page.call("Page.navigate", url=f"{base}/?token={token}&room={DEFAULT_WEB_RID}")
            await poll_page(page, "window.dylive && window.dylive.summary().broadcast.whole")
            await end_broadcast(sim, svc)
            final = await report()
            assert final is not None and final["session"]["ended_at"]

            async def caught_up() -> dict[str, Any] | None:
                await page.evaluate("window.dylive.refreshBroadcast()")
                snap: dict[str, Any] = json.loads(await page.evaluate(FIGURES))
                seen = snap["summary"]["broadcast"]
                return snap if seen["diamonds"] == final["gift_diamonds"] else None

            snap = await until(caught_up, 30, "the page showing the broadcast's diamonds")
    assert int(snap["diamonds"]) == final["gift_diamonds"] > 0
    assert snap["summary"]["broadcast"]["gifts"] == final["gifts"]
    # the figures stand on the session report (whatever part of the broadcast the page saw)
    assert snap["summary"]["broadcast"]["whole"] and snap["summary"]["broadcast"]["baseSeq"] > 0
    assert snap["caption"].startswith("本场 this broadcast")
    table = {g["name"]: g for g in final["gift_table"]}
    assert snap["totals"] and len(snap["totals"]) == min(6, len(table))
    for name, count, diamonds in snap["totals"]:  # the report's own rows (small numbers here)
        assert (count, diamonds) == (
            f"x{table[name]['count']:,}",
            f"{table[name]['diamonds']:,} 钻",
        )
