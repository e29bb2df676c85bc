"""The follow schedule shared by ``Room(follow=True)`` and the service's followed rooms."""

from __future__ import annotations

import random

from dylive.source.follow import FollowSchedule


def schedule(seed: int = 1) -> FollowSchedule:
    return FollowSchedule(interval=10.0, ceiling=600.0, recent=3600.0, rng=random.Random(seed))


def test_a_recently_live_room_is_checked_at_most_every_interval() -> None:
    s = schedule()
    delays = [s.delay(offline) for offline in range(0, 3600, 7)]
    assert max(delays) <= 10.0
    assert min(delays) >= 10.0 * (1 - s.jitter)


def test_a_room_offline_for_long_backs_off_to_the_ceiling() -> None:
    s = schedule()
    bases = [s.base(hours * 3600.0) for hours in (0.5, 1, 2, 3, 5, 24, 24 * 30)]
    assert bases == sorted(bases) and bases[0] == 10.0
    assert bases[1] > 10.0 and bases[-1] == bases[-2] == 600.0
    assert all(s.delay(86_400.0 * 9) <= 600.0 for _ in range(100))


def test_first_checks_are_staggered_across_the_interval() -> None:
    s = schedule(7)
    firsts = sorted(s.first_delay(0.0) for _ in range(1000))
    assert 0 < firsts[0] < 1.0 and 9.0 < firsts[-1] <= 10.0
    buckets = [sum(1 for f in firsts if b <= f < b + 1) for b in range(10)]
    assert min(buckets) > 50  # spread out, not bunched at one moment
