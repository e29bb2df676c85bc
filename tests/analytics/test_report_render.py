"""Report renderings: CSV cells never run as spreadsheet formulas; Markdown escapes table pipes."""

from __future__ import annotations

import csv
import io

from dylive.analytics import build_report, to_csv, to_markdown
from dylive.analytics.tally import SessionTally
from dylive.store import SessionRecord


def test_csv_neutralises_formulas_and_markdown_escapes_pipes() -> None:
    tally = SessionTally()
    gift = {"id": 1, "name": "=HYPERLINK()", "diamond_count": 2, "repeat_count": 1}
    tally.add(
        1, 11, "WebcastGiftMessage", 60_000, {"gift": gift, "user": {"uid": 7, "nickname": "@a|b"}}
    )
    session = SessionRecord(id=1, room_id=5, web_rid="1", title="+title", anchor="-x")
    report = build_report(session, tally)
    rows = list(csv.reader(io.StringIO(to_csv(report))))
    assert ["gifter", "7", "2", "'@a|b", "1", "0"] in rows
    assert ["gift", "1", "2", "'=HYPERLINK()", "1"] in rows
    assert ["session", "title", "'+title"] in rows and ["session", "anchor", "'-x"] in rows
    assert "@a\\|b" in to_markdown(report)
    assert report["gifts"] == 1 and report["gift_diamonds"] == 2
