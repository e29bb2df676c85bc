"""The SSRF guard: which webhook targets are refused, and that the check runs on every send."""

from __future__ import annotations

import ipaddress

import pytest

from dylive.deliver.targets import TargetRefused, check_url, refused_reason, resolve_target


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("100.64.0.1", "not globally routable"),  # shared address space (CGNAT)
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_refused_addresses(address: str, reason: str | None) -> None:
    assert refused_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",  # resolves to loopback
        "http://[::1]/",
        "https://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/",
        "http://2130706433/",  # 127.0.0.1 as one decimal number
    ],
)
async def test_private_targets_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(TargetRefused, match="allow-private-webhooks"):
        await resolve_target(url, allow_private=False)
    target = await resolve_target(url, allow_private=True)
    assert target.address


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "file:///etc/passwd", "http:///nohost", "http://x/#frag", "nonsense"],
)
def test_unusable_urls(url: str) -> None:
    with pytest.raises(TargetRefused):
        check_url(url)


async def test_unresolvable_host() -> None:
    with pytest.raises(TargetRefused, match="cannot resolve"):
        await resolve_target("http://no-such-host.invalid/", allow_private=True)
