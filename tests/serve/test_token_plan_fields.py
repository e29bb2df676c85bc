"""Fields of a token's plan (``token_plan``, create and update alike). A name has no control
characters: the C0 ones and DEL, but also the C1 ones (U+0080-U+009F: U+0085 is a line break to ``str.splitlines``
and to terminals) and the line and paragraph separators (U+2028, U+2029), which would break
``dylive token list``'s one line per token and the audit log's lines; a surrogate is refused
too. Other non-ASCII names (CJK, emoji with joiners) stay allowed. An expiry of no time
(``expires_in`` 0) is refused, and a null ``expires_in`` is never."""

from __future__ import annotations

import dataclasses

import pytest

from dylive.serve.token_plan import PlanError, change_of, describe, plan_of
from dylive.store import TokenRecord

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


@pytest.mark.parametrize("seconds", [0, 0.0, 0.0004])
def test_an_expiry_of_no_time_is_refused_not_an_expired_token(seconds: float) -> None:
    """``expires_in: 0`` made a token that expired at once (``--expires-in 0`` on ``dylive token
    update`` locked its holder out), while an ``expires_at`` not in the future is refused."""
    for check in (plan_of, change_of):
        with pytest.raises(PlanError, match="more than 0") as caught:
            check({"name": "n", "expires_in": seconds}, NOW)
        assert caught.value.field == "expires_in"


def test_a_null_expires_in_is_never_as_the_api_docs_say() -> None:
    assert plan_of({"name": "n", "expires_in": None}, NOW).expires_at == 0
    assert change_of({"expires_in": None}, NOW).expires_at == 0
    assert change_of({"expires_in": 60}, NOW).expires_at == NOW + 60_000


def test_a_rate_change_below_six_digits_is_described_not_unchanged() -> None:
    """The audit detail compared the rates as ``{:g}`` strings (six digits): a change from 1 to
    1.0000001 requests/s was written to the audit log as ``unchanged``."""
    before = TokenRecord(1, "t", "d" * 64, 0, 1.0, 0)
    after = dataclasses.replace(before, rate=1.0000001)
    assert describe(before, after) == "rate 1 -> 1.0000001"
    assert describe(before, dataclasses.replace(before, rate=2.5)) == "rate 1 -> 2.5"
    assert describe(before, before) == "unchanged"


@pytest.mark.parametrize("rate", [1e-300, 5e-324, 0.0009])
def test_a_rate_too_low_to_allow_a_second_request_is_refused(rate: float) -> None:
    """A rate of 1e-300 requests/s was taken: a token that can never make its second request
    (Retry-After capped at a year), not a plan. 0 stays "no limit"."""
    for check in (plan_of, change_of):
        with pytest.raises(PlanError, match="0 \\(no limit\\) or between") as caught:
            check({"name": "n", "rate": rate}, NOW)
        assert caught.value.field == "rate"
        with pytest.raises(PlanError) as caught:
            check({"name": "n", "quota": {"requests_per_second": rate}}, NOW)
        assert caught.value.field == "quota.requests_per_second"


@pytest.mark.parametrize("rate", [0, 0.001, 2.5, 1e6])
def test_rates_from_the_lowest_up_stay_allowed(rate: float) -> None:
    assert plan_of({"name": "n", "rate": rate}, NOW).rate == rate
    assert change_of({"rate": rate}, NOW).rate == rate
