"""Ground truth for analytics: what a room emitted, summed from its log's facts.

``totals(room, since)`` covers every logged message with ``seq >= since`` (all broadcasts in that
range; pass the first seq of a broadcast to get that broadcast alone). Gift figures come from the
scenario's own bookkeeping (``Draft.fact``: the gifts each message adds to its streak), never from
decoding the payloads, so they are independent of dylive's decoder and gift ledger.
"""

from __future__ import annotations

from typing import Any

from .rooms import LogEntry


def totals(entries: list[LogEntry], since: int) -> dict[str, Any]:
    """The figures of ``entries`` (already cut to ``seq >= since``)."""
    counts: dict[str, int] = {}
    diamonds: dict[int, int] = {}
    gifts_by_user: dict[int, int] = {}
    chatters: set[int] = set()
    sums = {"gifts": 0, "gift_diamonds": 0, "likes": 0, "follows": 0, "shares": 0, "joins": 0}
    peak = 0
    copies = 0
    for entry in entries:
        copies += entry.copy_of != 0
        counts[entry.method] = counts.get(entry.method, 0) + 1
        fact = entry.fact
        if fact is None:
            continue
        kind = fact[0]
        if kind == "gift":
            _, uid, gifts, value = fact
            sums["gifts"] += gifts
            sums["gift_diamonds"] += value
            diamonds[uid] = diamonds.get(uid, 0) + value
            gifts_by_user[uid] = gifts_by_user.get(uid, 0) + gifts
        elif kind == "like":
            sums["likes"] += fact[1]
        elif kind == "viewers":
            peak = max(peak, fact[1])
        elif kind == "chat":
            chatters.add(fact[1])
        else:
            sums[kind + "s"] += 1
    top = sorted(diamonds.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "from_seq": since,
        "to_seq": entries[-1].seq if entries else max(since - 1, 0),
        "counts": counts,
        "gifts": sums["gifts"],
        "gift_diamonds": sums["gift_diamonds"],
        "likes": sums["likes"],
        "follows": sums["follows"],
        "shares": sums["shares"],
        "fansclub_joins": sums["joins"],
        "unique_chatters": len(chatters),
        "top_gifters": [[uid, value] for uid, value in top],
        "gifts_by_user": [[uid, gifts_by_user[uid]] for uid, _ in top],
        "peak_viewers": peak,
        "gift_copies": copies,  # era double_gifts: second copies, not in any figure above
    }
