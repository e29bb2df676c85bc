"""Webhook targets: URL checks and the SSRF guard.

A target URL must be ``http`` or ``https`` with a host. Its host is resolved on every delivery
(DNS may change) and every address must be globally routable: loopback, private (RFC 1918, ULA),
shared (CGNAT), link-local (including the 169.254.169.254 cloud metadata address), multicast,
reserved and unspecified addresses, and IPv6 addresses that carry one of those IPv4 addresses
(6to4, NAT64, Teredo, IPv4-compatible, IPv4-mapped), are refused unless the operator allowed
private targets (``dylive serve --allow-private-webhooks``). The request is then sent to the checked address
itself (``Host`` header and TLS server name keep the original host), so a DNS answer that changes
between the check and the connection cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from dylive.errors import DyliveError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(DyliveError):
    """The URL is unusable, cannot be resolved, or resolves to a refused address."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked target: the URL, its host and port, and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def check_url(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an acceptable webhook URL; TargetRefused otherwise."""
    if len(url) > 2048:
        raise TargetRefused("the URL is longer than 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise TargetRefused("the URL must start with http:// or https://")
    host = parts.hostname or ""
    if not host:
        raise TargetRefused("the URL has no host")
    if parts.fragment:
        raise TargetRefused("the URL must not have a #fragment")
    return scheme, host, port or (443 if scheme == "https" else 80)


def refused_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public target (None when it is).

    An IPv6 address that embeds an IPv4 address (IPv4-mapped, IPv4-compatible, 6to4, NAT64,
    Teredo) is refused when the IPv4 address it carries is (``loopback (6to4 of 127.0.0.1)``):
    a relay or translator would deliver it there.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return refused_reason(address.ipv4_mapped)
        for form, inner in embedded_ipv4(address):
            reason = refused_reason(inner)
            if reason is not None:
                return f"{reason} ({form} of {inner})"
    checks = (
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_unspecified, "unspecified"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not globally routable"),
    )
    for hit, reason in checks:
        if hit:
            return reason
    return None


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215 local-use prefixes
COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291 IPv4-compatible (deprecated)


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses ``address`` carries, each with the name of the form that embeds it.

    IPv4-mapped is left to the caller. For a local-use NAT64 prefix (inside 64:ff9b:1::/48) the
    prefix length is the operator's choice, so every RFC 6052 layout is read (/48, /56, /64, /96).
    """
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    value = int(address)
    if address.sixtofour is not None:
        found.append(("6to4", address.sixtofour))
    if address.teredo is not None:
        server, client = address.teredo
        found += [("Teredo server", server), ("Teredo client", client)]
    if address in NAT64:
        found.append(("NAT64", ipaddress.IPv4Address(value & 0xFFFFFFFF)))
    if address in NAT64_LOCAL:
        raw = address.packed
        for form, octets in (
            ("/48", raw[6:8] + raw[9:11]),
            ("/56", raw[7:8] + raw[9:12]),
            ("/64", raw[9:13]),
            ("/96", raw[12:16]),
        ):
            found.append((f"NAT64 {form}", ipaddress.IPv4Address(octets)))
    if address in COMPATIBLE and value > 1:  # :: and ::1 are themselves
        found.append(("IPv4-compatible", ipaddress.IPv4Address(value)))
    return found


SERVICE_REMEDY = "start the service with --allow-private-webhooks to allow private targets"


async def resolve_target(url: str, *, allow_private: bool, remedy: str = SERVICE_REMEDY) -> Target:
    """Check ``url`` and resolve its host; the first acceptable address (TargetRefused if none).
    ``remedy`` completes the refusal of a private address: how the caller allows them."""
    scheme, host, port = check_url(url)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        addresses = await _resolve(host, port)
    for address in addresses:
        reason = refused_reason(address)
        if reason is not None and not allow_private:
            raise TargetRefused(
                f"{host} resolves to {address}, a {reason} address (refused: {remedy})"
            )
    return Target(url, scheme, host, port, str(addresses[0]))


async def _resolve(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"cannot resolve {host}: {exc}") from None
    found: dict[str, IPAddress] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        found.setdefault(text, ipaddress.ip_address(text))
    if not found:
        raise TargetRefused(f"cannot resolve {host}: no addresses")
    return list(found.values())
