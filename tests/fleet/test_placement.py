"""The placement rules, pure: fair share, least-loaded claims, gradual hand-off."""

from __future__ import annotations

from dylive.fleet.placement import fair_share, to_claim, to_release

CAP = {"a": 500, "b": 500, "c": 500}


def test_fair_share() -> None:
    assert fair_share(10, 3, 500) == 4
    assert fair_share(9, 3, 500) == 3
    assert fair_share(10, 3, 2) == 2  # capped by --max-rooms
    assert fair_share(0, 3, 500) == 0
    assert fair_share(5, 0, 500) == 0


def test_three_idle_nodes_claim_their_share_together() -> None:
    loads = {"a": 0, "b": 0, "c": 0}
    assert [to_claim(n, loads, CAP, 10) for n in "abc"] == [4, 4, 4]


def test_only_the_least_loaded_node_claims() -> None:
    loads = {"a": 4, "b": 4, "c": 1}
    assert to_claim("a", loads, CAP, 10) == 0
    assert to_claim("c", loads, CAP, 10) == 3
    # the least-loaded node is full: the next one claims
    assert to_claim("b", {"a": 4, "b": 3, "c": 1}, {**CAP, "c": 1}, 10) == 1


def test_a_node_never_claims_past_its_capacity() -> None:
    assert to_claim("a", {"a": 2}, {"a": 2}, 10) == 0
    assert to_claim("a", {"a": 0}, {"a": 2}, 10) == 2


def test_a_joining_node_gets_rooms_one_hand_off_at_a_time() -> None:
    loads = {"a": 10, "b": 0}
    assert to_release("a", loads, CAP, 10) == 1
    assert to_release("b", loads, CAP, 10) == 0
    assert to_release("a", {"a": 6, "b": 4}, CAP, 10) == 1
    assert to_release("a", {"a": 5, "b": 5}, CAP, 10) == 0
    assert to_release("a", {"a": 4, "b": 3, "c": 3}, CAP, 10) == 0  # no ping-pong at +1


def test_over_capacity_releases_the_excess_at_once() -> None:
    assert to_release("a", {"a": 7, "b": 0}, {"a": 4, "b": 500}, 7) == 3
