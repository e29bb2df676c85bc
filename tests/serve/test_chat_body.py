"""The chat response's tail written directly: the same bytes as ``orjson.dumps`` of its fields."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from dylive.serve.compat import chat_body, dumped_chat_body
from dylive.store import JoinedPage

PAGES = [
    JoinedPage(0, b"", 0),
    JoinedPage(1, b'{"method":"WebcastChatMessage"}', 42, 7, ()),
    JoinedPage(2, b"{},{}", 9_223_372_036_854_775_807, 18_446_744_073_709_551_615, ("x",)),
    JoinedPage(1, b"{}", 5, 3, ("WebcastGiftMessage", 'quo"te\\ \u6210\u529f \x01')),
]
COVERAGE: list[dict[str, Any] | None] = [
    None,
    {},
    {"gifts": "full", "degraded": ["signer \u5931\u8d25"], "ratio": 0.5, "n": None},
]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("coverage", COVERAGE)
@pytest.mark.parametrize("interval", [0, 1000, 1000.0, 0.25])
def test_the_tail_is_what_orjson_writes(
    page: JoinedPage, coverage: dict[str, Any] | None, interval: Any
) -> None:
    args = dict(last_msg_id=page.last_msg_id, now=1_765_000_000_123, start=1_764_999_000_000)
    direct = chat_body(page, interval=interval, coverage=coverage, **args)
    reference = dumped_chat_body(page, interval=interval, coverage=coverage, **args)
    assert direct == reference
    data = orjson.loads(direct)["data"]
    assert data["fetch_interval"] == interval and list(data["ignores"]) == list(page.ignored)
