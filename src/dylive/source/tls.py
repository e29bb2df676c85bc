"""One TLS context for every upstream HTTP client of the process.

Building a context loads the CA bundle: about 25 ms of CPU each time. httpx builds one per
client unless it is given one, and a service creates a client per room start and per room
resolution, so a node starting a few hundred rooms spent most of its CPU on CA bundles (45 %
of a node's samples while 300 rooms were pinned in bench/fleet.py). Contexts are meant to be
shared; this one is built once, on first use.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's client TLS context (certifi's CA bundle, as httpx's default)."""
    return httpx.create_ssl_context(trust_env=False)
