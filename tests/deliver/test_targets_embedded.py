"""The SSRF guard unwraps IPv6 forms that carry an IPv4 address (6to4, NAT64, Teredo,
IPv4-compatible, IPv4-mapped) and refuses the special ranges they carry, through the API too.

Reproduction: ``http://[2002:7f00:1::]/`` (6to4 of 127.0.0.1) and ``http://[2002:a9fe:a9fe::]/``
(6to4 of the 169.254.169.254 metadata address) were registered as webhooks with a 200.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import httpx
import pytest
from support.service import serving

from dylive.deliver.targets import TargetRefused, embedded_ipv4, refused_reason, resolve_target
from dylive.serve import tokens
from dylive.serve.app import ServiceConfig


def teredo(server: str, client: str) -> str:
    """A Teredo address (RFC 4380): 2001::/32, server, flags, port and client obfuscated."""
    s, c = int(ipaddress.IPv4Address(server)), int(ipaddress.IPv4Address(client))
    value = (0x20010000 << 96) | (s << 64) | (0x8000 << 48) | (0xFFFF << 32) | (c ^ 0xFFFFFFFF)
    return str(ipaddress.IPv6Address(value))


REFUSED = [
    ("2002:7f00:1::", "loopback (6to4 of 127.0.0.1)"),
    ("2002:a9fe:a9fe::", "link-local (6to4 of 169.254.169.254)"),
    ("2002:a00:1::1", "private (6to4 of 10.0.0.1)"),
    ("2002:6440:1::", "not globally routable (6to4 of 100.64.0.1)"),
    ("64:ff9b::7f00:1", "loopback (NAT64 of 127.0.0.1)"),
    ("64:ff9b::a9fe:a9fe", "link-local (NAT64 of 169.254.169.254)"),
    (teredo("8.8.8.8", "127.0.0.1"), "loopback (Teredo client of 127.0.0.1)"),
    (teredo("169.254.169.254", "8.8.8.8"), "link-local (Teredo server of 169.254.169.254)"),
    ("::7f00:1", "loopback (IPv4-compatible of 127.0.0.1)"),
    ("::a9fe:a9fe", "link-local (IPv4-compatible of 169.254.169.254)"),
    ("::ffff:169.254.169.254", "link-local"),  # IPv4-mapped: the IPv4 verdict itself
    ("::ffff:10.0.0.1", "private"),
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_embedded_special_ipv4_is_refused(address: str, reason: str) -> None:
    assert refused_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    ("address", "layout"),
    [
        ("64:ff9b:1::7f00:1", "/96"),
        ("64:ff9b:1:7f00:0:100::", "/48"),
        ("64:ff9b:1:0:7f:0:100::", "/64"),
    ],
)
def test_local_use_nat64_reads_every_layout(address: str, layout: str) -> None:
    """RFC 8215 local-use prefixes: the prefix length is unknown, every RFC 6052 layout is read."""
    six = ipaddress.IPv6Address(address)
    assert (f"NAT64 {layout}", ipaddress.IPv4Address("127.0.0.1")) in embedded_ipv4(six)
    assert "NAT64" in (refused_reason(six) or "")


def test_what_each_form_carries() -> None:
    assert embedded_ipv4(ipaddress.IPv6Address("2002:808:808::")) == [
        ("6to4", ipaddress.IPv4Address("8.8.8.8"))
    ]
    assert ("NAT64", ipaddress.IPv4Address("8.8.4.4")) in embedded_ipv4(
        ipaddress.IPv6Address("64:ff9b::808:404")
    )
    assert embedded_ipv4(ipaddress.IPv6Address("2606:4700:4700::1111")) == []
    assert embedded_ipv4(ipaddress.IPv6Address("::1")) == []  # loopback itself, not 0.0.0.1


def test_public_addresses_stay_accepted() -> None:
    for address in ("2002:808:808::", "::ffff:8.8.8.8", "2606:4700:4700::1111", "1.1.1.1"):
        assert refused_reason(ipaddress.ip_address(address)) is None, address
    # the plain IPv6 forms keep their own verdicts
    assert refused_reason(ipaddress.ip_address("::1")) == "loopback"
    assert refused_reason(ipaddress.ip_address("::")) == "unspecified"


@pytest.mark.parametrize("address", [a for a, _ in REFUSED])
async def test_literal_urls_are_refused_unless_allowed(address: str) -> None:
    url = f"http://[{address}]/hook"
    with pytest.raises(TargetRefused, match="allow-private-webhooks"):
        await resolve_target(url, allow_private=False)
    target = await resolve_target(url, allow_private=True)
    assert ipaddress.ip_address(target.address) == ipaddress.ip_address(address)


async def test_the_api_refuses_them_with_40006(tmp_path: Path) -> None:
    config = ServiceConfig(db=str(tmp_path / "s.sqlite3"), upstream="http://127.0.0.1:9")
    async with serving(config) as (base, svc), httpx.AsyncClient(base_url=base) as client:
        token = await tokens.create(svc.store, "t")  # type: ignore[attr-defined]
        for address in ("2002:7f00:1::", "2002:a9fe:a9fe::", "64:ff9b::7f00:1"):
            body = {"url": f"http://[{address}]/", "rooms": ["615189692839"]}
            resp = await client.post("/api/webhooks", params={"token": token}, json=body)
            assert resp.status_code == 400, resp.text
            assert resp.json()["code"] == 40006
            assert address in resp.json()["data"]["detail"]
        listing = await client.get("/api/webhooks", params={"token": token})
        assert listing.json()["data"]["webhooks"] == []
