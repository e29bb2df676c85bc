"""The dashboard's small things, in a real Chromium: an empty list says so in words (no "1. —"),
chart legends name their series without "--" values, times are 24-hour in the browser's locale,
and a live broadcast's unfinished minute is drawn apart (dashed) instead of as a drop."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from support.browser import chromium, needs_chromium, poll_page

from dylive.serve.app import ServiceConfig

pytestmark = needs_chromium

EMPTY = """JSON.stringify([...document.querySelectorAll('#sessions li, #ranking li')].map(li => ({
  text: li.textContent, marker: getComputedStyle(li).listStyleType, cls: li.className,
})))"""
CHARTS = """(() => {
  const C = window.dyliveCharts;
  const box = document.createElement('div');
  box.style.width = '900px';
  document.body.append(box);
  const minute = Math.floor(Date.now() / 60000) * 60000;
  const series = {minute: [minute - 120000, minute - 60000, minute], viewers: [10, 12, 3],
                  chat: [5, 6, 1], likes: [0, 0, 0], diamonds: [1, 2, 0]};
  const live = C.draw(box, series, {live: true});
  const liveLegend = box.textContent;
  const ended = C.draw(box, series, {live: false});
  return JSON.stringify({
    open: live.open, endedOpen: ended.open, charts: live.charts.length,
    legend: liveLegend, dashed: live.charts[0].series[2].show, endedDashed: ended.charts[0].series[2].show,
    oldLive: C.unfinished({minute: [minute - 600000]}, true),
    time: C.timeLabel(Date.UTC(2026, 0, 1, 20, 30)), dateTime: C.dateTime(Date.UTC(2026, 0, 1, 20, 30)),
  });
})()"""


async def test_empty_states_legends_times_and_the_unfinished_minute(
    tmp_path: Path, serve_api: Any
) -> None:
    config = ServiceConfig(db=str(tmp_path / "d.sqlite3"), upstream="http://127.0.0.1:9")
    async with serve_api(config) as (base, _svc), chromium(tmp_path / "profile") as page:
        await page.call("Runtime.enable")
        await page.call("Page.navigate", url=f"{base}/dashboard")
        await poll_page(page, "window.dyliveCharts && document.readyState === 'complete'")
        empty = json.loads(await page.evaluate(EMPTY))
        charts = json.loads(await page.evaluate(CHARTS))
    assert len(empty) == 2
    for item in empty:
        assert "empty" in item["cls"] and item["marker"] == "none", item
        assert item["text"] not in ("", "—") and "暂无" in item["text"], item
    assert charts["charts"] == 3
    assert charts["open"] and charts["dashed"]  # live: the current minute drawn apart
    assert not charts["endedOpen"] and not charts["endedDashed"]  # ended: every minute is whole
    assert not charts["oldLive"]
    assert "--" not in charts["legend"] and "viewers" in charts["legend"]
    assert re.fullmatch(r"\d{2}:\d{2}", charts["time"]), charts["time"]  # 24-hour, no AM/PM
    assert not re.search(r"AM|PM", charts["dateTime"]), charts["dateTime"]
