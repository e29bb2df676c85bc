"""The README is what a newcomer needs, short: what dylive is, the two commands, a first API
call, a first library call, the commands, where every docs page is, and the 中文 section; the
reference material lives in docs/ pages, each linked from the README."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_short() -> None:
    assert len(README.splitlines()) < 200


def test_what_a_newcomer_needs() -> None:
    headings = re.findall(r"^## (.+)$", README, re.M)
    for needed in ("Two commands", "A first API call", "A first library call", "Documentation"):
        assert needed in headings, headings
    assert headings[-1] == "中文说明"
    assert "make run" in README and "make test" in README
    assert 'curl "http://127.0.0.1:8000/douyin/liveroom/chat?token=$T' in README
    assert "dylive.Room(" in README
    assert "source .venv/bin/activate" in README  # how to get dylive on the PATH


def test_every_docs_page_is_linked() -> None:
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    linked = set(re.findall(r"\]\(docs/([\w.-]+\.md)", README))
    assert [p for p in pages if p not in linked] == [], "pages the README does not link"
    for moved in ("benchmarks.md", "settings.md", "troubleshooting.md"):
        assert moved in pages
