"""Every upstream client shares one TLS context (a context per client costs ~0.7 MB and ~18 ms:
hundreds of rooms would pay it hundreds of times)."""

from __future__ import annotations

import ssl

from dylive.source.credentials import Identity
from dylive.source.room import make_client
from dylive.source.tls import tls_context


def _context_of(client: object) -> ssl.SSLContext:
    pool = client._transport._pool  # type: ignore[attr-defined]  # httpcore's connection pool
    ctx: ssl.SSLContext = pool._ssl_context
    return ctx


async def test_clients_share_one_verifying_context() -> None:
    a = make_client(Identity())
    b = make_client(Identity(proxy=None))
    try:
        assert _context_of(a) is _context_of(b) is tls_context()
        ctx = tls_context()
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
        assert ctx.cert_store_stats()["x509_ca"] > 50  # a CA bundle is loaded
    finally:
        await a.aclose()
        await b.aclose()
