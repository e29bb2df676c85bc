"""`/docs` is a real OpenAPI UI (Swagger UI, vendored): in a headless Chromium it lists every
operation of /openapi.json with a "Try it out", fetches nothing from another origin, breaks no
rule of the page's Content-Security-Policy, and /openapi.json names every route of the app."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from starlette.routing import Mount, Route, WebSocketRoute
from support.browser import chromium, needs_chromium, poll_page

from dylive.serve.api import openapi_document
from dylive.serve.app import ServiceConfig, create_app

UI = """JSON.stringify({
  ops: [...document.querySelectorAll('.opblock')].map(b =>
    b.querySelector('.opblock-summary-method').textContent + ' ' +
    b.querySelector('.opblock-summary-path').getAttribute('data-path')),
  codes: document.querySelectorAll('.docs-codes tr').length,
})"""


def test_openapi_names_every_route(tmp_path: Path) -> None:
    paths = openapi_document()["paths"]
    app = create_app(ServiceConfig(db=str(tmp_path / "r.sqlite3")))
    for route in app.routes:
        if isinstance(route, Mount):
            continue
        assert isinstance(route, Route | WebSocketRoute)
        methods = {m.lower() for m in (getattr(route, "methods", None) or {"GET"})} - {"head"}
        path = route.path.replace("{hook}", "{id}")
        assert path in paths, path
        assert methods <= set(paths[path]), (path, methods)


@needs_chromium
async def test_docs_is_an_openapi_ui(tmp_path: Path, serve_api: Any) -> None:
    config = ServiceConfig(db=str(tmp_path / "d.sqlite3"), upstream="http://127.0.0.1:9")
    async with serve_api(config) as (base, _svc), chromium(tmp_path / "profile") as page:
        async with httpx.AsyncClient(base_url=base) as client:
            resp = await client.get("/docs")
        csp = resp.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe" not in csp
        seen: list[dict[str, Any]] = []
        page.listen(seen)
        await page.call("Runtime.enable")
        await page.call("Log.enable")
        await page.call("Network.enable")
        await page.call("Page.navigate", url=f"{base}/docs")
        await poll_page(page, "document.querySelectorAll('.opblock').length > 0")
        ui = json.loads(await page.evaluate(UI))
        await page.evaluate("document.querySelector('.opblock-summary-control').click(), true")
        await poll_page(page, "!!document.querySelector('.try-out__btn')")
        await asyncio.sleep(0)
    expected = sorted(
        f"{verb.upper()} {path}"
        for path, ops in openapi_document()["paths"].items()
        for verb in ops
    )
    assert sorted(ui["ops"]) == expected
    assert ui["codes"] > 20  # the error table below the UI
    requested = [
        e["params"]["request"]["url"] for e in seen if e["method"] == "Network.requestWillBeSent"
    ]
    assert requested and all(u.startswith(base) or u.startswith("data:") for u in requested), (
        requested
    )
    problems = [
        e["params"] for e in seen
        if e["method"] in ("Log.entryAdded", "Runtime.exceptionThrown")
        and ("Content Security Policy" in json.dumps(e["params"]) or e["method"] == "Runtime.exceptionThrown")
    ]  # fmt: skip
    assert not problems, problems
