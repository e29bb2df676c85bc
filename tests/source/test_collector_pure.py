"""Pure parts of the collector: URLs, cookies, backoff, de-dup, failure classes, page parsing."""

from __future__ import annotations

import json
import random
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError

from dylive.errors import (
    FrameError,
    HandshakeRefused,
    RoomNotFound,
    RoomNotLive,
    SignatureRefused,
)
from dylive.source import urls
from dylive.source.credentials import CookieError, Identity, load_cookie, merge_cookies, set_cookies
from dylive.source.dedupe import Deduper
from dylive.source.gaps import find_gap, log_position
from dylive.source.rate import RateMeter
from dylive.source.reconnect import Backoff, Failure, StaleConnection, classify
from dylive.source.room import info_from_enter, info_from_page, parse_ident
from dylive.source.transport import Delivery, Position
from dylive.wire.signing import signature_stub, verify_webcast_signature

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0.0.0 Safari/537.36"


def test_push_url_order_and_signature() -> None:
    params = urls.push_params(
        "7318", "7300000000000000001", cursor="c1", internal_ext="e|x", user_agent=UA
    )
    url = urls.push_url("ws://127.0.0.1:9/webcast/im/push/v2/?old=1", params)
    parts = urlsplit(url)
    assert parts.path == "/webcast/im/push/v2/"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    keys = [k for k, _ in pairs]
    assert keys[:6] == [
        "app_name",
        "version_code",
        "webcast_sdk_version",
        "update_version_code",
        "compress",
        "device_platform",
    ]
    assert keys[-3:] == ["room_id", "heartbeatDuration", "signature"]
    got = dict(pairs)
    assert got["browser_version"] == UA.removeprefix("Mozilla/")
    assert got["internal_ext"] == "e|x" and got["cursor"] == "c1"
    assert "%20" in parts.query and "old=1" not in parts.query
    assert verify_webcast_signature(signature_stub(got), got["signature"])


def test_push_base_forms() -> None:
    assert (
        urls.push_base("webcast100-ws-web-lq.douyin.com")
        == "wss://webcast100-ws-web-lq.douyin.com/webcast/im/push/v2/"
    )
    assert urls.push_base("ws://h:1") == "ws://h:1/webcast/im/push/v2/"


def test_fetch_query_plus_spaces_and_order() -> None:
    params = urls.fetch_params("1", "2", cursor="", internal_ext="", user_agent=UA, ms_token="t")
    q = urls.encode_query(params, plus_spaces=True)
    assert q.startswith("resp_content_type=protobuf&did_rule=3&")
    assert "browser_version=5.0+(Windows" in q
    assert q.endswith("msToken=t")
    e = urls.enter_params("123", "", user_agent=UA, ms_token="t")
    assert list(e)[:3] == ["aid", "app_name", "live_id"] and e["browser_version"] == "126.0.0.0"


def test_cookie_forms(tmp_path: Path) -> None:
    assert load_cookie("ttwid=1; sessionid=abc") == "ttwid=1; sessionid=abc"
    assert load_cookie("Cookie: a=1;b=2") == "a=1; b=2"
    raw = tmp_path / "raw.txt"
    raw.write_text("Cookie: sessionid=xyz; ttwid=9\n")
    assert load_cookie(str(raw)) == "sessionid=xyz; ttwid=9"
    ns = tmp_path / "cookies.txt"
    ns.write_text(
        "# Netscape HTTP Cookie File\n"
        ".douyin.com\tTRUE\t/\tTRUE\t1999999999\tsessionid\ts1\n"
        "#HttpOnly_.douyin.com\tTRUE\t/\tTRUE\t1999999999\tttwid\t1%7Cabc\n"
    )
    assert load_cookie(str(ns)) == "sessionid=s1; ttwid=1%7Cabc"
    with pytest.raises(CookieError):
        load_cookie(str(tmp_path / "missing.txt"))
    bad = tmp_path / "bad.txt"
    bad.write_text("# Netscape HTTP Cookie File\nonly\tthree\tfields\n")
    with pytest.raises(CookieError):
        load_cookie(str(bad))


def test_cookie_merge_and_set_cookie() -> None:
    assert merge_cookies("ttwid=mine", {"ttwid": "theirs", "x": "1"}) == "ttwid=mine; x=1"
    assert merge_cookies("a=1", {"a": "2"}, override=True) == "a=2"
    hdrs = [
        ("set-cookie", "ttwid=abc; Path=/; HttpOnly"),
        ("Set-Cookie", "__ac_nonce=n1"),
        ("x", "y"),
    ]
    assert set_cookies(hdrs) == {"ttwid": "abc", "__ac_nonce": "n1"}
    ident = Identity.build(cookie="a=1", user_agent="UA/1", proxy="")
    assert ident.cookie == "a=1" and ident.user_agent == "UA/1" and ident.proxy is None


def test_parse_ident() -> None:
    assert parse_ident("https://live.douyin.com/646454278948?x=1") == ("646454278948", "")
    assert parse_ident("live.douyin.com/123") == ("123", "")
    assert parse_ident("6922580638159719176") == ("", "6922580638159719176")
    assert parse_ident(42) == ("42", "")
    for bad in ("", "abc", "https://live.douyin.com/", "12a"):
        with pytest.raises(RoomNotFound):
            parse_ident(bad)


def test_backoff_jitter_and_cap() -> None:
    b = Backoff(initial=1.0, factor=2.0, cap=8.0, jitter=0.5, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(6)]
    bases = [1, 2, 4, 8, 8, 8]
    assert all(base * 0.5 <= d <= base for d, base in zip(delays, bases, strict=True))
    assert len(set(delays)) == 6  # jittered
    b.reset()
    assert b.next_delay() <= 1.0


def test_classify() -> None:
    assert classify(HandshakeRefused("415", "DEVICE_BLOCKED")) is Failure.RERESOLVE
    assert classify(HandshakeRefused("403", "OTHER")) is Failure.FALLBACK
    assert classify(SignatureRefused("x")) is Failure.FALLBACK
    assert classify(FrameError("x")) is Failure.RETRY
    assert classify(StaleConnection("x")) is Failure.RETRY
    assert classify(ConnectionClosedError(None, None)) is Failure.RETRY
    assert classify(httpx.ConnectError("x")) is Failure.RETRY
    assert classify(TimeoutError()) is Failure.RETRY
    assert classify(RoomNotFound("x")) is Failure.FATAL
    assert classify(RoomNotLive("x")) is Failure.ENDED
    assert classify(ValueError("bug")) is Failure.FATAL


def test_dedupe_bounded() -> None:
    d = Deduper(capacity=3)
    assert [d.seen(i) for i in (1, 2, 1, 3, 4)] == [False, False, True, False, False]
    assert len(d) == 3 and 1 not in d and d.duplicates == 1
    assert d.seen(1) is False  # forgotten after eviction


def test_rate_meter() -> None:
    r = RateMeter(window=10)
    for t in range(10):
        r.add(100.0 + t, 5)
    assert r.rate(109.5) == pytest.approx(5.0)
    assert r.rate(200.0) == 0.0


def test_gap_detection() -> None:
    asked = Position("r-10", "seq:10")
    ok = Delivery((), Position("", "seq:10"), "push", now=5)
    assert find_gap(asked, ok, room_id=1, last_ms=1) is None
    late = Delivery((), Position("", "x:1|seq:25"), "push", now=9)
    gap = find_gap(asked, late, room_id=1, last_ms=3)
    assert gap is not None and gap.missed == 15 and (gap.start_ms, gap.end_ms) == (3, 9)
    assert log_position(Position("t-1_r-7_d-1", "")) == 7
    assert find_gap(Position(), late, room_id=1, last_ms=0) is None


def _pace(obj: str) -> str:
    return f"<script>self.__pace_f.push([1,{json.dumps(obj)}])</script>"


def test_page_parsing() -> None:
    state = {
        "state": {
            "roomStore": {
                "roomInfo": {
                    "roomId": "7000000000000000001",
                    "room": {"status": 2, "title": "标题"},
                    "anchor": {
                        "id_str": "11",
                        "sec_uid": "MS4",
                        "nickname": "主播",
                        "display_id": "dy1",
                    },
                }
            },
            "userStore": {"odin": {"user_unique_id": "7300000000000000009"}},
        }
    }
    html = "<html>" + _pace("5:" + json.dumps(state)) + "</html>"
    info = info_from_page("123", html)
    assert info is not None
    assert (info.room_id, info.status, info.title) == (7000000000000000001, 2, "标题")
    assert (info.anchor_nickname, info.anchor_uid, info.anchor_sec_uid) == ("主播", "11", "MS4")
    assert info.anchor_display_id == "dy1" and info.user_unique_id == "7300000000000000009"
    assert info_from_page("123", "<html>challenge</html>") is None


def test_enter_parsing() -> None:
    body = {
        "status_code": 0,
        "data": {
            "data": [{"id_str": "7000000000000000002", "status": 4, "title": "t"}],
            "user": {"id_str": "5", "nickname": "n", "sec_uid": "s"},
        },
    }
    info = info_from_enter("9", body)
    assert info is not None and info.room_id == 7000000000000000002 and info.status == 4
    assert info.anchor_nickname == "n" and not info.live
    assert info_from_enter("9", {"data": {"data": []}}) is None
