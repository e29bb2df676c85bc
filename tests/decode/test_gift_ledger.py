"""Gift-delta properties: any interleaving/duplication of streaks sums to the final counts."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from dylive.decode import GiftEvent, GiftLedger, UserInfo


def _gift(
    msg_id: int, uid: int, group_id: int, repeat: int, *, group_count: int = 1, end: int = 0
) -> GiftEvent:
    return GiftEvent(
        method="WebcastGiftMessage",
        msg_id=msg_id,
        room_id=1,
        user=UserInfo(uid=uid, nickname=f"u{uid}"),
        gift_id=463,
        gift_name="小心心",
        diamond_count=2,
        combo=True,
        repeat_count=repeat,
        combo_count=repeat,
        group_count=group_count,
        group_id=group_id,
        repeat_end=end,
    )


def _streak(
    first_id: int, uid: int, group_id: int, length: int, group_count: int
) -> list[GiftEvent]:
    return [
        _gift(first_id + i, uid, group_id, i + 1, group_count=group_count, end=int(i + 1 == length))
        for i in range(length)
    ]


streaks = st.lists(
    st.tuples(st.integers(1, 3), st.integers(1, 12), st.sampled_from([1, 1, 10, 66])),
    min_size=1,
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(streaks, st.data())
def test_any_order_and_duplication_sums_to_final(
    spec: list[tuple[int, int, int]], data: st.DataObject
) -> None:
    messages: list[GiftEvent] = []
    expected = 0
    for n, (uid, length, group_count) in enumerate(spec):
        messages += _streak(1000 * (n + 1), uid, 1611801890 + n, length, group_count)
        expected += length * group_count
    dupes = data.draw(st.lists(st.sampled_from(messages), max_size=10))
    order = data.draw(st.permutations(messages + dupes))
    ledger = GiftLedger()
    assert sum(ledger.delta(m) for m in order) == expected
    assert ledger.total_gifts == expected
    assert ledger.total_diamonds == expected * 2


def test_in_order_streak_deltas() -> None:
    ledger = GiftLedger()
    assert [ledger.delta(m) for m in _streak(1, 7, 99, 4, 1)] == [1, 1, 1, 1]


def test_final_message_alone_counts_the_whole_streak() -> None:
    ledger = GiftLedger()
    assert ledger.delta(_gift(5, 7, 99, 5, end=1)) == 5
    assert ledger.delta(_gift(3, 7, 99, 3)) == 0


def test_group_count_bundles() -> None:
    ledger = GiftLedger()
    assert ledger.delta(_gift(1, 7, 99, 1, group_count=10)) == 10
    assert ledger.delta(_gift(2, 7, 99, 2, group_count=10)) == 10


def test_non_combo_gifts_count_each_message_once() -> None:
    ledger = GiftLedger()
    a = _gift(1, 7, 0, 1)
    b = _gift(2, 7, 0, 1)
    assert [ledger.delta(a), ledger.delta(b), ledger.delta(a)] == [1, 1, 0]


def test_same_group_id_different_users_are_separate_streaks() -> None:
    ledger = GiftLedger()
    assert ledger.delta(_gift(1, 7, 99, 3)) == 3
    assert ledger.delta(_gift(2, 8, 99, 2)) == 2


def test_memory_is_bounded() -> None:
    ledger = GiftLedger(max_streaks=10, max_ids=20)
    for i in range(100):
        ledger.delta(_gift(i + 1, i, 500 + i, 1))
    assert len(ledger._streaks) <= 10
    assert len(ledger._seen) <= 20


def test_settle_sets_delta_in_place_like_apply() -> None:
    events = _streak(1, 7, 42, 4, group_count=1)
    applied = GiftLedger()
    settled = GiftLedger()
    for e in events:
        copy = applied.apply(e)
        fresh = replace(e)  # an event nobody else holds, as the collector's just decoded ones
        assert settled.settle(fresh) is fresh
        assert fresh == copy and fresh.delta == copy.delta
    assert [e.delta for e in events] == [None] * 4  # apply never touched its input
    assert settled.total_gifts == applied.total_gifts == 4
