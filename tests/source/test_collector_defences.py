"""The collector against the simulator's Douyin defences: requests as 2026 clients send them,
push host failover, refused guest polling, verification pages, hidden gifts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from support.simkit import FAST, Run, collecting, compare, fast_backoff, wait_for

from dylive.errors import VerificationRequired
from dylive.sim import DEFAULT_WEB_RID, SimConfig, SimServer
from dylive.sim.defences import Defences
from dylive.source import urls
from dylive.source.collector import Room
from dylive.source.ranklist import ranklist_params
from dylive.source.room import resolve_room
from dylive.wire.frames import encode_response, parse_response, push_servers_of

GIFT = "WebcastGiftMessage"


def sim(**defences: Any) -> SimServer:
    cfg = SimConfig(seed=5, rate=40.0, tick=0.05, heartbeat_timeout=5.0, ping_interval=None)
    cfg.defences = Defences(**defences)
    return SimServer(cfg)


def room(server: SimServer, **kw: Any) -> Room:
    options = replace(FAST, **kw.pop("options", {}))
    return Room(
        DEFAULT_WEB_RID, upstream=server.base_url, options=options, backoff=fast_backoff(), **kw
    )


# ---------------------------------------------------------------- requests (pure)


def test_one_sdk_version_and_one_browser_version_everywhere() -> None:
    ua = urls.settings.DEFAULT_USER_AGENT
    assert "Chrome/138" in ua
    push = urls.push_params("1", "2", cursor="", internal_ext="", user_agent=ua)
    assert push["webcast_sdk_version"] == push["update_version_code"] == "1.0.15"
    assert push["browser_version"] == ua.removeprefix("Mozilla/")
    enter = urls.enter_params("1", "", user_agent=ua, ms_token="m")
    rank = ranklist_params("1", "2", "s", user_agent=ua, ms_token="m")
    assert enter["browser_name"] == rank["browser_name"] == "Chrome"
    assert enter["browser_version"] == rank["browser_version"] == "138.0.0.0"


def test_sdk_version_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYLIVE_SDK_VERSION", "1.0.16")
    push = urls.push_params("1", "2", cursor="", internal_ext="", user_agent="UA")
    assert push["webcast_sdk_version"] == "1.0.16"


def test_push_host_preference_and_normalisation() -> None:
    body = encode_response(
        [], push_server="wss://b/webcast/im/push/v2/", push_server_v2="https://a, wss://c",
        proxy_server="d",
    )  # fmt: skip
    batch = parse_response(body)
    assert batch.push_servers == ("https://a", "wss://c", "wss://b/webcast/im/push/v2/", "d")
    assert batch.push_server == "https://a"
    assert urls.push_base("https://a") == "wss://a/webcast/im/push/v2/"
    assert urls.push_base("http://127.0.0.1:9") == "ws://127.0.0.1:9/webcast/im/push/v2/"
    assert push_servers_of("", "x,x", "y") == ("x", "y")
    assert urls.push_headers("https://live.douyin.com", "42") == {
        "Origin": "https://live.douyin.com",
        "Referer": "https://live.douyin.com/42",
    }


# ---------------------------------------------------------------- against the simulator


async def test_push_passes_the_sdk_version_and_origin_checks() -> None:
    async with sim(sdk_version="1.0.15", require_origin=True) as server:
        r, run = room(server), Run()
        async with r, collecting(r, run):
            assert await wait_for(lambda: len(run.events) >= 30, 20.0), r.status()
        status = r.status()
    assert status.transport == "push" and status.refusals == 0
    assert server.stats()["handshakes_refused"] == 0


async def test_push_host_failover_to_the_next_named_server() -> None:
    dead = "ws://127.0.0.1:1/webcast/im/push/v2/"
    async with sim(push_servers=(dead, "self")) as server:
        r, run = room(server), Run()
        async with r, collecting(r, run):
            assert await wait_for(
                lambda: r.status().transport == "push" and r.status().state == "live", 20.0
            ), r.status()
            assert await wait_for(lambda: len(run.events) >= 20, 20.0)
        assert server.stats()["connections_total"] >= 1


async def test_refused_guest_polling_is_reported_without_bouncing() -> None:
    async with sim(guest_poll_limit=4) as server:
        server.set_faults_all(refuse_handshake=True)
        r, run = room(server), Run()
        async with r, collecting(r, run):
            assert await wait_for(lambda: "polling_refused" in r.status().degraded, 30.0), (
                r.status()
            )
            fallbacks = r.status().fallbacks
            assert await wait_for(lambda: r.status().reconnects >= fallbacks + 6, 30.0)
            status = r.status()
        assert "polling_refused" in status.degraded and "refused" in status.degraded
        assert status.fallbacks == fallbacks  # no more switching to the refused polling


async def test_logged_in_polling_keeps_working() -> None:
    async with sim(guest_poll_limit=3) as server:
        r, run = room(server, cookie=server.login(), options={"transport": "poll"}), Run()
        async with r, collecting(r, run):
            assert await wait_for(lambda: len(run.events) >= 150, 30.0), r.status()
        assert "polling_refused" not in r.status().degraded


async def test_verification_page_is_a_challenge_not_a_missing_room() -> None:
    async with sim(verification="cookieless") as server:
        info = await resolve_room(DEFAULT_WEB_RID, upstream=server.base_url, signing="off")
        assert info.live  # the ttwid flow passes the cookieless check
    async with sim(verification="always") as server:
        with pytest.raises(VerificationRequired, match="verification"):
            await resolve_room(DEFAULT_WEB_RID, upstream=server.base_url, signing="off")


async def test_guest_sees_gifts_hidden_within_30_seconds() -> None:
    async with sim(gifts_need_login=True) as server:
        r, run = room(server), Run()
        async with r, collecting(r, run):
            assert await wait_for(lambda: "gifts_hidden" in r.status().degraded, 30.0), r.status()
        assert not any(e.method == GIFT for e in run.events)
        assert r.status().coverage["gifts"] == "hidden"


async def test_logged_in_identity_gets_every_gift() -> None:
    async with sim(gifts_need_login=True) as server:
        r, run = room(server, cookie=server.login()), Run()
        async with r, collecting(r, run):
            assert await wait_for(lambda: r.coverage.verdict == "visible", 40.0), r.status()
            server.end(DEFAULT_WEB_RID)
            assert await wait_for(lambda: run.done, 20.0)
        log = server.log(DEFAULT_WEB_RID)
    missing, dups = compare(log, run)
    assert missing == [] and dups == []
    gifts = [e["msg_id"] for e in log if e["method"] == GIFT]
    assert gifts and set(gifts) <= set(run.ids)
    assert "gifts_hidden" not in r.status().degraded
