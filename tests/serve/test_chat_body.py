"""The chat response's bytes (``compat.chat_body``) are the envelope ``orjson.dumps`` writes,
with the stored messages spliced in: the fields formatted directly must not differ by a byte."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from dylive.serve.compat import chat_body
from dylive.store import JoinedPage
from dylive.store.cursor import make_cursor, make_internal_ext

MESSAGES = [{"method": "WebcastChatMessage", "msg_id": 7714536595408251829, "text": "已关注"}]
COVERAGE = {"gifts": "hidden", "gift_messages": 0, "checked_at": None, "degraded": ["polling"]}


def expected(page: JoinedPage, messages: list[Any], **kw: Any) -> bytes:
    cursor = make_cursor(kw["now"], kw["last_msg_id"], page.last_seq)
    data: dict[str, Any] = {
        "messages": messages,
        "cursor": cursor,
        "fetch_interval": kw["interval"],
        "now": kw["now"],
        "internal_ext": make_internal_ext(kw["now"], kw["start"], cursor, page.last_seq),
        "ignores": list(page.ignored),
    }
    if kw.get("coverage") is not None:
        data["coverage"] = kw["coverage"]
    return orjson.dumps({"code": 200, "msg": "成功", "data": data})


@pytest.mark.parametrize("ignored", [(), ("WebcastGiftMessage", "WebcastLikeMessage")])
@pytest.mark.parametrize("coverage", [None, COVERAGE])
@pytest.mark.parametrize("messages", [[], MESSAGES, MESSAGES * 3])
@pytest.mark.parametrize("interval", [0, 1000])
def test_chat_body_is_the_envelope_orjson_writes(
    ignored: tuple[str, ...], coverage: Any, messages: list[Any], interval: int
) -> None:
    body = b",".join(orjson.dumps(m) for m in messages)
    last_msg_id = messages[-1]["msg_id"] if messages else 0
    page = JoinedPage(len(messages), body, 9_223_372_036_854_775_807, last_msg_id, ignored)
    kw: dict[str, Any] = {
        "last_msg_id": last_msg_id,
        "now": 1_796_180_520_135,
        "start": 1_796_180_000_000,
        "interval": interval,
        "coverage": coverage,
    }
    assert chat_body(page, **kw) == expected(page, messages, **kw)
