"""``X-Forwarded-For`` is honoured from the proxies of ``forwarded_allow_ips`` only (by default
the loopback: a reverse proxy on the same host, as uvicorn's own default); with none configured
a request's client is its connection's peer, whatever headers it sends, and uvicorn's
proxy-headers middleware is not in the request path."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from dylive.serve import errors
from dylive.serve.app import ServiceConfig, create_app
from dylive.serve.limits import server_config
from dylive.serve.runtime import forwarded_allow_ips
from dylive.settings import SettingError

from ..support.edgekit import STACKS, envelope, exchange, offline, served

CHAT = "/douyin/liveroom/chat?token=dyl_wrong&room_id=1"


def _anon(tmp_path: Path) -> ServiceConfig:
    """The offline service, anonymous requests limited to 1/s per client address."""
    return replace(offline(tmp_path), anon_rate=1.0)


async def anon_codes(port: int) -> list[int]:
    """The codes of 4 bad-token requests from this host, each forwarded for another client."""
    codes = []
    for n in range(4):
        raw = f"GET {CHAT} HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 203.0.113.{n}\r\n\r\n"
        codes.append(envelope(await exchange(port, raw.encode()))[1]["code"])
    return codes


@pytest.mark.parametrize("http", STACKS)
async def test_with_no_trusted_proxy_the_peer_is_the_client(
    tmp_path: Path, http: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYLIVE_FORWARDED_ALLOW_IPS", "")
    async with served(_anon(tmp_path), http) as (port, app):
        codes = await anon_codes(port)
        assert errors.RATE_LIMITED.code in codes  # one bucket: 127.0.0.1's
        buckets = app.state.svc.limiter._buckets
        assert ("anon", "127.0.0.1") in buckets and ("anon", "203.0.113.0") not in buckets


@pytest.mark.parametrize("http", STACKS)
async def test_by_default_a_proxy_on_this_host_names_the_client(
    tmp_path: Path, http: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DYLIVE_FORWARDED_ALLOW_IPS", raising=False)
    async with served(_anon(tmp_path), http) as (port, app):
        codes = await anon_codes(port)
        assert codes == [errors.BAD_TOKEN.code] * 4  # a bucket per forwarded address
        buckets = app.state.svc.limiter._buckets
        assert ("anon", "203.0.113.3") in buckets and ("anon", "127.0.0.1") not in buckets


def test_the_middleware_is_only_there_with_a_trusted_proxy(tmp_path: Path) -> None:
    app = create_app(offline(tmp_path))
    plain = server_config(app, "127.0.0.1", 0, forwarded_allow_ips="")
    plain.load()
    assert not isinstance(plain.loaded_app, ProxyHeadersMiddleware)
    proxied = server_config(app, "127.0.0.1", 0, forwarded_allow_ips=["10.0.0.0/8"])
    proxied.load()
    assert isinstance(proxied.loaded_app, ProxyHeadersMiddleware)


def test_bad_addresses_are_a_setting_error() -> None:
    assert forwarded_allow_ips(" 127.0.0.1 ,10.1.0.0/16,* ,") == ["127.0.0.1", "10.1.0.0/16", "*"]
    assert forwarded_allow_ips("") == []
    with pytest.raises(SettingError, match="DYLIVE_FORWARDED_ALLOW_IPS"):
        forwarded_allow_ips("proxy.internal")
