"""A token's name (``token_plan``, create and update alike) has no control characters: the C0
ones and DEL, but also the C1 ones (U+0080-U+009F: U+0085 is a line break to ``str.splitlines``
and to terminals) and the line and paragraph separators (U+2028, U+2029), which would break
``dylive token list``'s one line per token and the audit log's lines; a surrogate is refused
too. Other non-ASCII names (CJK, emoji with joiners) stay allowed."""

from __future__ import annotations

import pytest

from dylive.serve.token_plan import PlanError, change_of, plan_of

NOW = 1_790_000_000_000


@pytest.mark.parametrize(
    "name", ["a\x00b", "a\nb", "a\x7fb", "a\x85b", "a\x9bb", "a\u2028b", "a\u2029b", "a\ud800"]
)
def test_a_name_with_a_control_character_is_refused(name: str) -> None:
    for check in (plan_of, change_of):
        with pytest.raises(PlanError, match="control characters") as caught:
            check({"name": name}, NOW)
        assert caught.value.field == "name"


@pytest.mark.parametrize("name", ["客户-42", "a b", "caf\u00e9", "\U0001f468\u200d\U0001f469"])
def test_other_names_stay_allowed(name: str) -> None:
    assert plan_of({"name": name}, NOW).name == name
    assert change_of({"name": name}, NOW).name == name
