"""A session report: the JSON document built from a tally, and its Markdown and CSV renderings.

``build_report(session, tally, top=…)`` is pure; ``to_markdown`` / ``to_csv`` render the JSON
document (so the three formats always agree). The JSON keeps times as epoch milliseconds; the
Markdown and CSV show them as ISO-8601 local time with the UTC offset (the machine's time zone,
``TZ`` picks another), the CSV with the exact milliseconds beside them (``…_ms`` rows).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from dylive.decode.events import MASKED_UID, UserKey, key_order
from dylive.store import SessionRecord
from dylive.store.export import iso_time, neutralise

from . import rates
from .tally import CHAT, DIAMONDS, LIKES, MINUTE_MS, VIEWERS, SessionTally

DEFAULT_TOP = 100


def session_info(session: SessionRecord, tally: SessionTally | None = None) -> dict[str, Any]:
    """The public fields of one session (the sessions list and the report's header)."""
    started = session.started_at or (tally.first_at if tally else 0)
    ended = session.ended_at or None
    end = session.ended_at or (tally.last_at if tally else 0)
    return {
        "id": session.id,
        "room_id": session.room_id,
        "web_rid": session.web_rid,
        "title": session.title,
        "anchor": session.anchor,
        "started_at": started,
        "ended_at": ended,
        "live": ended is None,
        "duration_seconds": max(0, end - started) // 1000 if started and end else 0,
    }


def build_report(
    session: SessionRecord, tally: SessionTally, *, top: int = DEFAULT_TOP
) -> dict[str, Any]:
    """The report of ``session`` from its tally (``top``: how many gifters to list)."""
    gifters = sorted(tally.gifters.items(), key=lambda kv: (-kv[1][1], key_order(kv[0])))
    gift_table = sorted(tally.by_gift.items(), key=lambda kv: (-kv[1][2], kv[0]))
    return {
        "session": session_info(session, tally),
        "messages": dict(sorted(tally.counts.items())),
        "message_total": sum(tally.counts.values()),
        "gifts": tally.gifts,
        "gift_diamonds": tally.diamonds,
        "gift_yinlang": rates.yinlang(tally.diamonds),
        "gift_yuan": rates.yuan(tally.diamonds),
        "rates": rates.rates(),
        "gift_table": [
            {"id": gid, "name": name, "count": count, "diamonds": dia}
            for gid, (name, count, dia) in gift_table
        ],
        "gifters": len(gifters),
        "top_gifters": [
            {**who(key), "nickname": nick, "diamonds": dia, "gifts": n, "pay_grade_level": pay}
            for key, (nick, dia, n, pay) in gifters[: max(0, top)]
        ],
        "likes": tally.likes,
        "unique_chatters": len(tally.chatters),
        "follows": tally.follows,
        "shares": tally.shares,
        "fansclub_joins": tally.joins,
        "viewers": {
            "peak": tally.viewers_peak,
            "average": round(tally.viewers_sum / tally.viewers_n, 1) if tally.viewers_n else 0,
            "cumulative": tally.cumulative,
        },
        "series": series(tally),
        "collection": {
            "last_seq": tally.last_seq,
            "first_message_at": tally.first_at,
            "last_message_at": tally.last_at,
            "max_silence_seconds": tally.max_silence / 1000,
        },
        "reconciliation": reconciliation(tally),
    }


def who(key: UserKey) -> dict[str, Any]:
    """A report's user id fields from a stable user key: ``{"uid"}`` for a real uid; for a user
    Douyin masked, ``{"uid": 111111, "webcast_uid", "masked": true}`` (docs/events.md)."""
    if isinstance(key, int):
        return {"uid": key}
    return {"uid": MASKED_UID, "webcast_uid": key, "masked": True}


def series(tally: SessionTally) -> dict[str, list[Any]]:
    """Per-minute series from the first to the last minute (viewers carried forward)."""
    out: dict[str, list[Any]] = {
        "minute": [],
        "viewers": [],
        "chat": [],
        "likes": [],
        "diamonds": [],
    }
    if not tally.minutes:
        return out
    first, last = min(tally.minutes), max(tally.minutes)
    viewers = 0
    for minute in range(first, last + 1):
        bucket = tally.minutes.get(minute, [-1, 0, 0, 0, 0])
        viewers = bucket[VIEWERS] if bucket[VIEWERS] >= 0 else viewers
        out["minute"].append(minute * MINUTE_MS)
        out["viewers"].append(viewers)
        out["chat"].append(bucket[CHAT])
        out["likes"].append(bucket[LIKES])
        out["diamonds"].append(bucket[DIAMONDS])
    return out


def reconciliation(tally: SessionTally) -> dict[str, Any]:
    """Our diamonds per ranked user vs Douyin's ranking score at the same point of the stream
    (the latest in-stream ranking that listed the user)."""
    users = [
        {**who(key), "nickname": nick, "douyin": score, "ours": ours, "diff": ours - score}
        for key, (nick, score, ours) in sorted(
            tally.ranks.items(), key=lambda kv: (-kv[1][1], key_order(kv[0]))
        )
    ]
    douyin = sum(u["douyin"] for u in users)
    ours = sum(u["ours"] for u in users)
    return {
        "source": "in-stream ranking (RoomRankMessage, RoomUserSeqMessage)",
        "users": users,
        "douyin_total": douyin,
        "ours_total": ours,
        "diff_total": ours - douyin,
        "complete": douyin == 0 or ours >= douyin,
        "coverage": round(ours / douyin, 4) if douyin else None,
    }


def to_markdown(report: dict[str, Any]) -> str:
    """A readable Markdown rendering of a report."""
    s = report["session"]
    v = report["viewers"]
    rec = report["reconciliation"]
    lines = [
        f"# {s['anchor'] or s['web_rid']} — {s['title']}",
        "",
        f"- session {s['id']}, room_id {s['room_id']}, web_rid {s['web_rid']}",
        f"- {'live' if s['live'] else 'ended'}, {s['duration_seconds']} s,"
        f" started {iso_time(s['started_at'] or 0) or '—'}"
        f", ended {iso_time(s['ended_at'] or 0) or '—'}",
        f"- messages: {report['message_total']}",
        f"- gifts: {report['gifts']} = {report['gift_diamonds']} 抖币"
        f" = {report['gift_yinlang']} 音浪 = {report['gift_yuan']:.2f} yuan",
        f"- likes {report['likes']}, unique chatters {report['unique_chatters']},"
        f" follows {report['follows']}, shares {report['shares']},"
        f" fans-club joins {report['fansclub_joins']}",
        f"- viewers: peak {v['peak']}, average {v['average']}, cumulative {v['cumulative']}",
        f"- reconciliation: ours {rec['ours_total']} vs Douyin {rec['douyin_total']}"
        f" (diff {rec['diff_total']})",
        "",
        "## Top gifters",
        "",
        "| # | uid | nickname | 抖币 | gifts | level |",
        "|---|---|---|---|---|---|",
    ]
    for i, g in enumerate(report["top_gifters"], start=1):
        lines.append(
            f"| {i} | {g.get('webcast_uid') or g['uid']} | {_cell(g['nickname'])} | {g['diamonds']} | {g['gifts']}"
            f" | {g['pay_grade_level']} |"
        )
    lines += ["", "## Gifts", "", "| id | name | count | 抖币 |", "|---|---|---|---|"]
    for g in report["gift_table"]:
        lines.append(f"| {g['id']} | {_cell(g['name'])} | {g['count']} | {g['diamonds']} |")
    lines += ["", "## Messages", "", "| method | count |", "|---|---|"]
    lines += [f"| {m} | {n} |" for m, n in report["messages"].items()]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _text(value: Any) -> Any:
    return neutralise(value) if isinstance(value, str) else value


def to_csv(report: dict[str, Any]) -> str:
    """A report as CSV rows ``section,key,value[,…]`` (one table, spreadsheet friendly; text
    cells that a spreadsheet would run as a formula are neutralised; times as ISO-8601; a
    ``minute`` row is ``minute,<start>,viewers,chat,likes,diamonds``)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "key", "value", "extra1", "extra2", "extra3"])
    for key, value in report["session"].items():
        if key in ("started_at", "ended_at"):
            w.writerow(["session", key, iso_time(value or 0)])
            w.writerow(["session", f"{key}_ms", value or ""])
            continue
        w.writerow(["session", key, "" if value is None else _text(value)])
    for key in ("message_total", "gifts", "gift_diamonds", "gift_yinlang", "gift_yuan", "likes"):
        w.writerow(["totals", key, report[key]])
    for key in ("unique_chatters", "follows", "shares", "fansclub_joins"):
        w.writerow(["totals", key, report[key]])
    for key, value in report["viewers"].items():
        w.writerow(["viewers", key, value])
    for method, n in report["messages"].items():
        w.writerow(["messages", method, n])
    for g in report["gift_table"]:
        w.writerow(["gift", g["id"], g["diamonds"], neutralise(g["name"]), g["count"]])
    for g in report["top_gifters"]:
        w.writerow(
            [
                "gifter",
                g.get("webcast_uid") or g["uid"],
                g["diamonds"],
                neutralise(g["nickname"]),
                g["gifts"],
                g["pay_grade_level"],
            ]
        )
    s = report["series"]
    for i, minute in enumerate(s["minute"]):
        row = [s["viewers"][i], s["chat"][i], s["likes"][i], s["diamonds"][i]]
        w.writerow(["minute", iso_time(minute), *row])
    return buf.getvalue()
