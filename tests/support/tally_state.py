"""The whole-tally checkpoint blob of the releases before checkpoint parts; the bound on a
session's stored parts.

Those releases saved a session's whole tally in its row (``state``: the fixed counters, every
gifter, ranked user, minute and chatter) and no parts. dylive no longer writes it but must still
load it; the upgrade tests build it here from the tally's own fixed counters and whole part.
"""

from __future__ import annotations

import orjson

from dylive.analytics.staging import PartLog
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


def within_bound(parts: list[bytes], floor: int) -> bool:
    """The compaction bound of a session's stored ``parts``: those after the whole ones (and
    before a stage in progress) cost less to load than the whole ones, or ``floor``, but for the
    last of them (the checkpoint that made a compaction due)."""
    if not parts:
        return True
    log = PartLog()
    for blob in parts:
        log.see(orjson.loads(blob), len(blob))
    whole, debt, _ = log.accounting()
    n = len(log.costs) if log.open_at < 0 else log.open_at
    last = log.costs[n - 1] if n > max(1, log.whole_end) else 0
    return debt - last < max(whole, floor)
