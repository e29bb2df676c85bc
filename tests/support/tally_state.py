"""The whole-tally checkpoint blob of the releases before checkpoint parts.

Those releases saved a session's whole tally in its row (``state``: the fixed counters, every
gifter, ranked user, minute and chatter) and no parts. dylive no longer writes it but must still
load it; the upgrade tests build it here from the tally's own fixed counters and whole part.
"""

from __future__ import annotations

import orjson

from dylive.analytics.tally import SessionTally, _ordered

GROWING = ("gifters", "ranks", "minutes", "chatters")


def whole_state(tally: SessionTally) -> bytes:
    """``tally`` as one pre-parts blob."""
    data = tally._fixed()
    whole = orjson.loads(tally._whole_part() or b"{}")
    for name in GROWING:
        data[name] = whole.get(name, [])
    data["chatters"] = _ordered(
        tally.chatters
    )  # those releases sorted them (uids, then webcast_uids)
    return orjson.dumps(data)
