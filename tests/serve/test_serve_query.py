"""The chat endpoint's query parsing equals Starlette's ``request.query_params`` (the last value
of a repeated name wins, blank values kept, percent-escapes and ``+`` decoded)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from dylive.serve.compat import _query
from dylive.serve.query import parse_query

PIECES = st.sampled_from(
    ["token", "room_id", "count", "=", "&", "&&", "%", "%2", "%41", "%E4%BD%A0", "+", "5", " ",
     ";", "a=b", "x", "\xe4", "\xff", "_", "=="]
)  # fmt: skip


@given(st.lists(PIECES, max_size=12).map("".join))
def test_parsed_like_starlette(text: str) -> None:
    raw = text.encode("latin-1")
    assert parse_query(raw) == dict(QueryParams(raw).items())


def test_common_queries() -> None:
    raw = b"token=dyl_x-y_z&room_id=1&count=&flag&&count=5"
    assert parse_query(raw) == {"token": "dyl_x-y_z", "room_id": "1", "count": "5", "flag": ""}
    assert parse_query(b"a=%E4%BD%A0+b") == {"a": "你 b"}


class _Svc:
    def __init__(self) -> None:
        self.chat_queries: dict[bytes, Any] = {}


CHAT_PIECES = st.sampled_from(
    ["token=t", "room_id=1", "cursor=", "cursor", "1_2_3_1", "count=5", "&", "%41", "+", "x",
     "=", "wait=2", "&cursor=9_9_9_1", "xcursor=1"]
)  # fmt: skip


@given(st.lists(CHAT_PIECES, max_size=8).map("".join), st.sampled_from(["1_2_3_1", "", "a b"]))
def test_a_kept_chat_query_gives_the_parameters_a_full_parse_gives(text: str, cursor: str) -> None:
    """The chat endpoint keeps a query's parsed parameters under the query but for its cursor
    (serve/compat.py ``_query``): a later request of that query with another cursor gets the
    same query dict as a full parse of it, and the kept parameters."""
    svc = _Svc()
    raw = text.encode()
    q, parsed, key = _query(svc, {"query_string": raw})  # type: ignore[arg-type]
    assert q == parse_query(raw) and parsed is None
    if key is None:
        return
    svc.chat_queries[key] = ({k: v for k, v in q.items() if k != "cursor"}, ("kept",))
    other = raw.replace(b"cursor=" + q["cursor"].encode(), b"cursor=" + cursor.encode())
    scope: dict[str, Any] = {"query_string": other}
    q2, parsed2, key2 = _query(svc, scope)  # type: ignore[arg-type]
    assert q2 == parse_query(other) and scope["dylive.query"] is q2
    assert parsed2 == ("kept",) and key2 is None


def test_queries_not_kept() -> None:
    svc = _Svc()
    for raw in [b"token=t", b"cursor=1&cursor=2", b"xcursor=1", b"cursor=1%41", b"a=+&cursor=1"]:
        assert _query(svc, {"query_string": raw})[2] is None  # type: ignore[arg-type]
    assert _query(svc, {"query_string": b"token=t&cursor=1_2_3_1&count=5"})[2] == (  # type: ignore[arg-type]
        b"token=t&&count=5"
    )
