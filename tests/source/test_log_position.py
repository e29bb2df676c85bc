"""``log_position`` finds what the regular expressions of its contract find: the first
``seq:<n>`` of internal_ext at its start or after ``|``, else the cursor's first ``r-<n>`` at its
start or after ``_``; ``<n>`` 1-19 ASCII digits, the whole run of them."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from dylive.source.gaps import log_position
from dylive.source.transport import Position

_EXT_SEQ = re.compile(r"(?:^|\|)seq:([0-9]{1,19})(?![0-9])")
_CURSOR_SEQ = re.compile(r"(?:^|_)r-([0-9]{1,19})(?![0-9])")
ALPHABET = "seq:r-_|0123456789x٣"


def expected(cursor: str, ext: str) -> int | None:
    m = _EXT_SEQ.search(ext) or _CURSOR_SEQ.search(cursor)
    return int(m.group(1)) if m else None


@settings(max_examples=1000)
@given(st.text(alphabet=ALPHABET, max_size=40), st.text(alphabet=ALPHABET, max_size=40))
def test_random_positions(cursor: str, ext: str) -> None:
    assert log_position(Position(cursor, ext)) == expected(cursor, ext)


def test_edges() -> None:
    cases = [
        ("", "seq:" + "9" * 19),
        ("", "seq:" + "9" * 20),
        ("", "x|seq:1|seq:2"),
        ("", "xseq:1|seq:2"),
        ("", "seq:" + "1" * 20 + "|seq:3"),
        ("", "|seq:٣|seq:4"),
        ("", "seq:|seq:5"),
        ("t-1_r-7_d-1", ""),
        ("r-8", "seq:x"),
        ("t-1r-7_r-9", ""),
        ("1796675763376_7716663643601902732_1_1", "internal_src:pushserver|seq:371|wrds_v:7"),
    ]
    for cursor, ext in cases:
        assert log_position(Position(cursor, ext)) == expected(cursor, ext), (cursor, ext)
