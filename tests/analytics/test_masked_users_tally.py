"""Reports of a room whose users arrive masked (all uid 111111): users are told apart by their
webcast_uid, in unique chatters, gifters, the reconciliation and the tally's checkpoint; a
doubled gift stored without a delta is counted once."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from support.tally_state import whole_state

from dylive.analytics import build_report, to_csv, to_markdown
from dylive.analytics.tally import SessionTally
from dylive.decode.events import MASKED_UID
from dylive.store import SessionRecord

GIFT, CHAT, SEQ = "WebcastGiftMessage", "WebcastChatMessage", "WebcastRoomUserSeqMessage"


def masked(token: str) -> dict[str, Any]:
    return {"uid": MASKED_UID, "nickname": "x***", "webcast_uid": token, "masked": True}


def gift(group_id: int, repeat: int, end: int) -> dict[str, Any]:
    return {
        "id": 463,
        "name": "小心心",
        "diamond_count": 1,
        "repeat_count": repeat,
        "group_count": 1,
        "group_id": group_id,
        "repeat_end": end,
    }


def test_masked_users_are_counted_apart_and_doubled_gifts_once() -> None:
    tally = SessionTally()
    seq = iter(range(1, 100))
    for token in ("A", "B", "C", "A"):
        tally.add(next(seq), next(seq), CHAT, 60_000, {"content": "hi", "user": masked(token)})
    tally.add(next(seq), 50, CHAT, 60_000, {"content": "hi", "user": {"uid": 42}})
    # A: a streak of 3 then its copy (new msg_id, same group_id/count, repeat_end 1);
    # B: one gift and its copy. Stored without deltas: the tally's own ledger counts them.
    for msg_id, token, g in (
        (60, "A", gift(9, 1, 0)),
        (61, "A", gift(9, 3, 0)),
        (62, "A", gift(9, 3, 1)),
        (63, "B", gift(9, 1, 0)),
        (64, "B", gift(9, 1, 1)),
    ):
        tally.add(next(seq), msg_id, GIFT, 61_000, {"gift": g, "user": masked(token)})
    ranks = [{"rank": 1, "score": 3, "user": masked("A")}]
    tally.add(next(seq), 70, SEQ, 62_000, {"viewers": {"total": 5}, "ranks": ranks})

    report = build_report(SessionRecord(id=1, room_id=5, web_rid="1"), tally)
    assert report["unique_chatters"] == 4
    assert report["gifts"] == 4 and report["gift_diamonds"] == 4
    assert report["gifters"] == 2
    top = report["top_gifters"][0]
    assert top == {
        "uid": MASKED_UID,
        "webcast_uid": "A",
        "masked": True,
        "nickname": "x***",
        "diamonds": 3,
        "gifts": 3,
        "pay_grade_level": 0,
    }
    rec = report["reconciliation"]["users"][0]
    assert rec["webcast_uid"] == "A" and rec["ours"] == 3 and rec["douyin"] == 3
    assert ["gifter", "A", "3", "x***", "3", "0"] in list(csv.reader(io.StringIO(to_csv(report))))
    assert "| 1 | A | x*** | 3 | 3 |" in to_markdown(report)

    again = SessionTally.from_state(whole_state(tally))
    assert again.chatters == tally.chatters and again.gifters == tally.gifters
    # the restored ledger continues A's streak: one more click adds one gift
    again.add(100, 80, GIFT, 63_000, {"gift": gift(9, 4, 1), "user": masked("A")})
    assert again.gifts == 5 and again.gifters["A"][2] == 4


def test_real_uid_and_webcast_uid_sort_together() -> None:
    tally = SessionTally()
    tally.add(1, 1, GIFT, 1, {"gift": gift(1, 2, 1), "user": masked("Z")})
    tally.add(2, 2, GIFT, 1, {"gift": gift(2, 2, 1), "user": {"uid": 8, "nickname": "e"}})
    report = build_report(SessionRecord(id=1, room_id=5, web_rid="1"), tally)
    assert [g["uid"] for g in report["top_gifters"]] == [8, MASKED_UID]  # ties: uids first


def test_a_part_lists_gifters_uids_first_then_webcast_uids() -> None:
    """A checkpoint part's changed gifters are in one order (uids by value, then webcast_uids)
    whatever the kinds of keys held, so the same changes give the same bytes; the part and the
    whole state come back as the same tally."""
    for users in (
        [{"uid": 30}, {"uid": 4}, masked("b"), {"uid": 12}, masked("a")],  # both kinds
        [{"uid": 30}, {"uid": 4}],  # uids only
        [masked("b"), masked("a")],  # webcast_uids only
    ):
        tally = SessionTally()
        for seq, user in enumerate(users, 1):
            tally.add(
                seq, seq, GIFT, 1, {"gift": gift(seq, 1, 1), "user": {"nickname": "n", **user}}
            )
        state, part = tally.checkpoint()[:2]
        keys = [row[0] for row in orjson.loads(part)["gifters"]]
        ints = sorted(k for k in tally.gifters if isinstance(k, int))
        assert keys == ints + sorted(k for k in tally.gifters if isinstance(k, str))
        assert len(keys) == len(users)
        assert SessionTally.from_state(state, [part]).gifters == tally.gifters
        assert SessionTally.from_state(whole_state(tally)).gifters == tally.gifters
