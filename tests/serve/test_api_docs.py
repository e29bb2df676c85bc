"""docs/api.md covers every HTTP and WebSocket route the service answers, and its error table is
the one generated from the code's own table (dylive.serve.errors), every code explained."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from starlette.routing import Mount, Route, WebSocketRoute

from dylive.serve.app import ServiceConfig, create_app
from dylive.serve.errors import ALL_ERRORS, MEANING, error_table

ROOT = Path(__file__).resolve().parents[2]
API_DOC = ROOT / "docs" / "api.md"


def generator() -> object:
    spec = importlib.util.spec_from_file_location(
        "gen_api_errors", ROOT / "scripts" / "gen_api_errors.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_code_is_explained() -> None:
    codes = [kind.code for kind in ALL_ERRORS]
    assert len(set(codes)) == len(codes)
    assert set(MEANING) == {200, *codes}
    assert all(MEANING[c].strip() for c in MEANING)


def test_the_error_table_is_generated_from_the_code() -> None:
    text = API_DOC.read_text(encoding="utf-8")
    table = text.split("<!-- errors:begin -->\n", 1)[1].split("<!-- errors:end -->", 1)[0]
    assert table == error_table(), "docs/api.md is stale: run python scripts/gen_api_errors.py"
    for kind in ALL_ERRORS:
        assert f"| {kind.code} | {kind.status} | {kind.msg} |" in table
    gen = generator()
    assert gen.render(text) == text  # type: ignore[attr-defined]
    stale = text.replace(f"| {ALL_ERRORS[-1].code} |", "| 59999 |")
    assert gen.render(stale) == text  # type: ignore[attr-defined]
    with pytest.raises(SystemExit, match="markers"):
        gen.render(text.replace("<!-- errors:end -->", ""))  # type: ignore[attr-defined]


def routes(tmp_path: Path) -> list[tuple[str, str]]:
    """(method, path) of every route of the app; WebSocket routes as GET."""
    app = create_app(ServiceConfig(db=str(tmp_path / "r.sqlite3")))
    out: list[tuple[str, str]] = []
    for route in app.routes:
        if isinstance(route, Route):
            out += [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]
        elif isinstance(route, WebSocketRoute):
            out.append(("GET", route.path))
        else:
            assert isinstance(route, Mount), route
    return out


def test_every_route_is_documented(tmp_path: Path) -> None:
    text = API_DOC.read_text(encoding="utf-8")
    found = routes(tmp_path)
    assert ("GET", "/ws/{live_id}") in found and ("POST", "/api/webhooks") in found
    missing = [
        f"{method} {path}"
        for method, path in found
        if not re.search(re.escape(f"{method} {path}") + r"(?![\w/{.-])", text)
    ]
    assert not missing, f"docs/api.md does not document: {missing}"
