"""The chat endpoint's query parsing equals Starlette's ``request.query_params`` (the last value
of a repeated name wins, blank values kept, percent-escapes and ``+`` decoded)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

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
