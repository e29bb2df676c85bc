"""The dashboard in a real headless Chromium (DevTools protocol) against the API and the simulator:
live chat lines and the viewer count appear, gift totals equal the ledger's, a screenshot is taken."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import orjson
from support.browser import Page, chromium, needs_chromium, poll_page
from support.service import end_broadcast

from dylive.decode import GiftEvent, GiftLedger, decode
from dylive.serve import tokens
from dylive.serve.app import ServiceConfig
from dylive.sim import DEFAULT_ROOM_ID, DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.wire.frames import RawMessage

pytestmark = needs_chromium

BADGE = "document.getElementById('live-badge').textContent"
SNAPSHOT = """JSON.stringify({
  chat: [...document.querySelectorAll('#feed .line.chat .what')].map(n => n.textContent),
  lines: document.querySelectorAll('#feed .line').length,
  viewers: document.getElementById('viewers').dataset.value || null,
  viewersText: document.getElementById('viewers').textContent,
  anchor: document.getElementById('anchor').textContent,
  badge: document.getElementById('live-badge').textContent,
  transport: document.getElementById('transport').textContent,
  conn: document.getElementById('conn').textContent,
  ranking: document.querySelectorAll('#ranking li .name').length,
  search: location.search,
  summary: window.dylive ? window.dylive.summary() : null,
})"""


async def ledger_totals(store: Any, first: int, last: int) -> tuple[int, int]:
    """Gift count and diamonds of the stored gifts with seq in [first, last] (GiftLedger)."""
    ledger = GiftLedger()
    rows = await store.messages_of(DEFAULT_ROOM_ID, ["WebcastGiftMessage"], first - 1)
    for seq, msg_id, method, raw in rows:
        event = decode(RawMessage(method, msg_id, raw), room_id=DEFAULT_ROOM_ID)
        if seq <= last and isinstance(event, GiftEvent):
            ledger.delta(event)
    return ledger.total_gifts, ledger.total_diamonds


async def stored_chat(store: Any) -> set[str]:
    page = await store.read(
        DEFAULT_ROOM_ID, 0, 100_000, frozenset({"WebcastChatMessage", "WebcastEmojiChatMessage"})
    )
    return {orjson.loads(m.rendered)["payload"]["content"] for m in page.messages}


async def wait_for_page(page: Page) -> dict[str, Any]:
    """The page snapshot once it shows chat lines, the viewer count and the ranking."""
    snap: dict[str, Any] = {}
    async with asyncio.timeout(25):
        while not (len(snap.get("chat", [])) >= 5 and snap.get("viewers") and snap.get("ranking")):
            await asyncio.sleep(0.25)
            snap = json.loads(await page.evaluate(SNAPSHOT) or "{}")
    return snap


async def wait_for_badge(page: Page, word: str) -> str:
    async with asyncio.timeout(10):
        while word not in (text := await page.evaluate(BADGE)):  # noqa: ASYNC110 (browser)
            await asyncio.sleep(0.2)
    return str(text)


async def test_dashboard_shows_live_chat_and_viewers(tmp_path: Path, serve_api: Any) -> None:
    async with SimServer(SimConfig(seed=11, rate=30.0, tick=0.1)) as sim:
        config = ServiceConfig(db=str(tmp_path / "d.sqlite3"), upstream=sim.base_url, signing="v2")
        async with serve_api(config) as (base, svc), chromium(tmp_path / "profile") as page:
            svc.stream.status_interval = 0.5
            token = await tokens.create(svc.store, "browser")
            await page.call("Runtime.enable")
            await page.call("Page.enable")
            await page.call("Page.navigate", url=f"{base}/?token={token}&room={DEFAULT_WEB_RID}")
            snap = await wait_for_page(page)
            shot = await page.call("Page.captureScreenshot", format="png")
            summary = json.loads(await page.evaluate(SNAPSHOT))["summary"]
            chat = await stored_chat(svc.store)
            gifts = await ledger_totals(svc.store, summary["firstSeq"], summary["lastSeq"])
            await end_broadcast(sim, svc)
            ended = await wait_for_badge(page, "ended")
    png = tmp_path / "dashboard.png"
    png.write_bytes(base64.b64decode(shot["data"]))
    if target := os.environ.get("DYLIVE_DASHBOARD_SCREENSHOT"):
        shutil.copy(png, target)
    assert png.stat().st_size > 10_000
    assert set(snap["chat"]) <= chat  # what the page shows is what the store holds
    assert int(snap["viewers"]) > 0 and snap["viewersText"] != "—"
    assert snap["anchor"] not in ("", "—")
    assert "LIVE" in snap["badge"] and snap["transport"] in ("push", "poll")
    assert "ended" in ended  # the broadcast's end reaches the header
    assert "token" not in snap["search"]  # the secret left the address bar
    # gift totals from combo deltas, never a double count: the same as the Python ledger
    assert summary["firstSeq"] > 0 and summary["lastSeq"] >= summary["firstSeq"]
    assert (summary["gifts"], summary["diamonds"]) == gifts


CANVAS_INK = """(() => {
  const root = document.getElementById('charts');
  return [...root.querySelectorAll('canvas')].map(c => {
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) ink++;
    return ink;
  });
})()"""
REPORT_DOM = """JSON.stringify({
  kpi: Object.fromEntries([...document.querySelectorAll('.kpis b')].map(b => [b.id, b.dataset.value])),
  gifters: [...document.querySelectorAll('#gifters tbody tr')].map(tr => [...tr.children].map(td => td.textContent)),
  gifts: [...document.querySelectorAll('#gift-table tbody tr')].map(tr => [...tr.children].map(td => td.textContent)),
  rec: [...document.querySelectorAll('#reconciliation tbody tr')].map(tr => [...tr.children].map(td => td.textContent)),
  loaded: !!(window.dyliveReport && window.dyliveReport.data()),
  search: location.search,
})"""


async def test_charts_and_report_page_show_the_api_figures(tmp_path: Path, serve_api: Any) -> None:
    async with SimServer(SimConfig(seed=12, rate=40.0, tick=0.1)) as sim:
        config = ServiceConfig(db=str(tmp_path / "r.sqlite3"), upstream=sim.base_url, signing="v2")
        async with (
            serve_api(config) as (base, svc),
            chromium(tmp_path / "profile") as page,
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            token = await tokens.create(svc.store, "charts")
            auth = {"token": token}
            await page.call("Runtime.enable")
            await page.call(
                "Page.navigate", url=f"{base}/dashboard?token={token}&room={DEFAULT_WEB_RID}"
            )
            # the dashboard's first poll starts the collector; the charts follow once stored
            await poll_page(
                page,
                "window.dyliveAnalytics && (window.dyliveAnalytics.refresh(), window.dyliveAnalytics.summary().points > 0)",
            )
            ink = await page.evaluate(CANVAS_INK)
            assert len(ink) >= 3 and all(n > 100 for n in ink), ink  # three drawn charts
            sessions = await page.evaluate(
                "document.querySelectorAll('#sessions li[data-session]').length"
            )
            assert sessions >= 1

            async def has_gifts() -> bool:  # a slow start must not end a broadcast giftless
                r = await client.get(f"/api/rooms/{DEFAULT_WEB_RID}/sessions", params=auth)
                sid = r.json()["data"]["sessions"][0]["id"]
                rep = await client.get(f"/api/sessions/{sid}/report", params=auth)
                return bool(rep.json()["data"]["gift_diamonds"])

            async with asyncio.timeout(30):
                while not await has_gifts():  # noqa: ASYNC110 (polls the API)
                    await asyncio.sleep(0.2)
            await end_broadcast(sim, svc)

            async def ended() -> dict[str, Any] | None:
                r = (
                    await client.get(
                        f"/api/rooms/{DEFAULT_WEB_RID}/sessions", params={"token": token}
                    )
                ).json()
                first = r["data"]["sessions"][0]
                return first if first["ended_at"] else None

            async with asyncio.timeout(20):
                while not (session := await ended()):  # noqa: ASYNC110 (polls the API)
                    await asyncio.sleep(0.1)
            api = (
                await client.get(f"/api/sessions/{session['id']}/report", params={"token": token})
            ).json()["data"]
            await page.call(
                "Page.navigate", url=f"{base}/report?token={token}&session={session['id']}"
            )
            await poll_page(page, "window.dyliveReport && !!window.dyliveReport.data()")
            dom = json.loads(await page.evaluate(REPORT_DOM))
            ink = await page.evaluate(CANVAS_INK)
    assert len(ink) == 3 and all(n > 100 for n in ink), ink
    assert "token" not in dom["search"]
    kpi = dom["kpi"]
    assert int(kpi["k-diamonds"]) == api["gift_diamonds"] > 0
    assert int(kpi["k-gifts"]) == api["gifts"] and int(kpi["k-likes"]) == api["likes"]
    assert int(kpi["k-chatters"]) == api["unique_chatters"]
    assert int(kpi["k-peak"]) == api["viewers"]["peak"]
    assert int(kpi["k-messages"]) == api["message_total"]
    assert kpi["k-yuan"] == f"{api['gift_yuan']:.2f}"
    assert [(r[1], r[2], int(r[3]), int(r[4])) for r in dom["gifters"]] == [
        (g["nickname"], str(g["uid"]), g["diamonds"], g["gifts"]) for g in api["top_gifters"]
    ]
    assert [(r[0], int(r[2]), int(r[3])) for r in dom["gifts"]] == [
        (g["name"], g["count"], g["diamonds"]) for g in api["gift_table"]
    ]
    assert [(r[1], int(r[2]), int(r[3]), int(r[4])) for r in dom["rec"]] == [
        (str(u["uid"]), u["douyin"], u["ours"], u["diff"]) for u in api["reconciliation"]["users"]
    ]


ERROR_SNAPSHOT = """JSON.stringify({
  title: document.getElementById('title').textContent,
  titleClass: document.getElementById('title').className,
  badge: document.getElementById('live-badge').textContent,
  summary: window.dylive ? window.dylive.summary() : null,
  analytics: window.dyliveAnalytics ? window.dyliveAnalytics.summary() : null,
})"""


def rejected(metrics_text: str) -> int:
    """Requests answered 40002 (unknown or revoked token), from /metrics."""
    found = re.findall(r'^dylive_http_requests_total\{[^}]*code="40002"[^}]*\} (\d+(?:\.\d+)?)',
                       metrics_text, re.M)  # fmt: skip
    return int(sum(float(n) for n in found))


async def test_a_bad_token_is_shown_in_the_header_and_never_retried(
    tmp_path: Path, serve_api: Any
) -> None:
    async with SimServer(SimConfig(seed=12, rate=5.0, tick=0.1)) as sim:
        config = ServiceConfig(db=str(tmp_path / "e.sqlite3"), upstream=sim.base_url)
        async with (
            serve_api(config) as (base, _svc),
            chromium(tmp_path / "profile") as page,
            httpx.AsyncClient(base_url=base) as client,
        ):
            await page.call("Runtime.enable")
            await page.call("Page.navigate", url=f"{base}/?token=dyl_wrong&room={DEFAULT_WEB_RID}")
            snap: dict[str, Any] = {}
            async with asyncio.timeout(20):
                while "40002" not in snap.get("title", "") or (snap["analytics"] or {}).get(
                    "polling", True
                ):
                    await asyncio.sleep(0.2)
                    snap = json.loads(await page.evaluate(ERROR_SNAPSHOT) or "{}")
            metrics = (await client.get("/metrics")).text
    assert "token无效或已被吊销" in snap["title"] and "error" in snap["titleClass"]
    assert "Enter a token" not in snap["title"]
    assert snap["badge"] == "error"
    # nothing left running that could ask again: no stream, no ranking timer
    assert snap["summary"]["streaming"] is False and snap["summary"]["polling"] is False
    assert snap["analytics"]["polling"] is False
    # one request with the bad token per panel (live view, analytics), not a retry loop
    assert rejected(metrics) <= 2


HEADER = """JSON.stringify({
  badge: document.getElementById('live-badge').textContent,
  title: document.getElementById('title').textContent,
  titleError: document.getElementById('title').classList.contains('error'),
  ids: document.getElementById('ids').textContent,
})"""


async def test_dashboard_waits_for_the_next_broadcast_and_switches(
    tmp_path: Path, serve_api: Any
) -> None:
    """A followed room between broadcasts: "未开播 · waiting for the next broadcast" with the last
    broadcast's summary (not an error), then the next broadcast by itself (issue #20)."""
    async with SimServer(SimConfig(seed=13, rate=30.0, tick=0.1)) as sim:
        config = ServiceConfig(
            db=str(tmp_path / "w.sqlite3"), upstream=sim.base_url, follow_interval=1.0
        )
        async with serve_api(config) as (base, svc), chromium(tmp_path / "profile") as page:
            svc.stream.status_interval = 0.3
            token = await tokens.create(svc.store, "waiting")
            await page.call("Runtime.enable")
            await page.call("Page.navigate", url=f"{base}/?token={token}&room={DEFAULT_WEB_RID}")
            await wait_for_page(page)
            await end_broadcast(sim, svc)
            waiting = await poll_page(
                page, f"(h => h.includes('waiting for the next broadcast') && h)({HEADER})"
            )
            header = json.loads(waiting)
            assert "未开播" in header["badge"] and not header["titleError"], header
            assert "未开播 · waiting for the next broadcast" in header["title"], header
            assert "last broadcast" in header["title"] and "messages" in header["title"], header
            sim.start(DEFAULT_WEB_RID)
            second = str(sim.room_id(DEFAULT_WEB_RID))
            live = await poll_page(page, f"(h => h.includes('{second}') && h)({HEADER})")
            header = json.loads(live)
            assert "LIVE" in header["badge"], header
            # new messages of the next broadcast appear in the same page
            count = "document.querySelectorAll('#feed .line.chat').length"
            before = await page.evaluate(count)
            await poll_page(page, f"{count} > {before} + 3")


USAGE_DOM = """JSON.stringify({
  kpi: Object.fromEntries([...document.querySelectorAll('.kpis b')].map(b => [b.id, b.dataset.value])),
  quotas: [...document.querySelectorAll('#quotas .quota')].map(q => ({
    name: q.dataset.quota, used: Number(q.dataset.used), limit: Number(q.dataset.limit),
    width: q.querySelector('.quota-bar i').style.width})),
  ink: [...document.querySelectorAll('#chart canvas')].map(c => {
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) ink++;
    return ink;
  }),
  search: location.search,
})"""


async def test_usage_page_shows_the_token_usage_and_quota_bars(
    tmp_path: Path, serve_api: Any
) -> None:
    from dylive.store import Quota

    config = ServiceConfig(
        db=str(tmp_path / "u.sqlite3"), upstream="http://127.0.0.1:9", ranklist=False
    )
    async with (
        serve_api(config) as (base, svc),
        chromium(tmp_path / "profile") as page,
        httpx.AsyncClient(base_url=base, timeout=30) as client,
    ):
        quota = Quota(requests_per_day=40, messages_per_month=1000)
        token = await tokens.create(svc.store, "usage-page", quota=quota)
        for _ in range(10):
            assert (await client.get("/api/rooms", params={"token": token})).status_code == 200
        await client.get("/douyin/liveroom/chat", params={"token": token})  # 40003
        api = (await client.get("/api/usage", params={"token": token})).json()["data"]
        await page.call("Runtime.enable")
        await page.call("Page.navigate", url=f"{base}/usage?token={token}&days=7")
        await poll_page(page, "window.dyliveUsage && !!window.dyliveUsage.data()")
        dom = json.loads(await page.evaluate(USAGE_DOM))
    assert "token" not in dom["search"]
    kpi = dom["kpi"]
    # the page read /api/usage after the test's own read (counted once answered): one more
    assert int(kpi["k-requests"]) == api["total"]["requests"] + 1 == 12
    assert int(kpi["k-billable"]) == api["total"]["billable"] + 1 == 11
    assert int(kpi["k-rooms"]) == 0
    bars = {q["name"]: q for q in dom["quotas"]}
    assert set(bars) == {"requests_per_day", "messages_per_month"}
    assert bars["requests_per_day"]["used"] == 11 and bars["requests_per_day"]["limit"] == 40
    assert bars["requests_per_day"]["width"] == "27.5%"
    assert bars["messages_per_month"]["width"] in ("0%", "0.0%")
    assert len(dom["ink"]) == 1 and dom["ink"][0] > 100  # the drawn requests chart
