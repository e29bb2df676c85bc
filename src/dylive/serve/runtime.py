"""The event loop and HTTP parser the service runs on: fast C implementations when installed.

``uvloop`` (a libuv event loop) and ``httptools`` (the C HTTP/1.1 parser) are optional: with
them the request path costs less CPU; without them (``pip install dylive`` on a platform without
wheels, or ``DYLIVE_LOOP=asyncio`` / ``DYLIVE_HTTP=h11``) the standard asyncio loop and the
pure-Python h11 parser serve the same API. ``auto`` (the default) takes the fast one when it can
be imported.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import ipaddress
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from dylive import settings
from dylive.settings import SettingError

T = TypeVar("T")

_LOOPS = ("auto", "uvloop", "asyncio")
_HTTP = ("auto", "httptools", "h11")
_WS_COMPRESSION = ("shared", "per-client", "off")


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _choice(name: str, allowed: tuple[str, ...], value: str | None) -> str:
    chosen = (value or settings.get(name)).strip().lower()
    if chosen not in allowed:
        env = settings.SETTINGS[name].env
        raise SettingError(f"{env} must be one of {', '.join(allowed)}, not {chosen!r}")
    return chosen


def loop_name(value: str | None = None) -> str:
    """``uvloop`` or ``asyncio``: the loop ``run`` uses (setting ``loop``, else ``value``)."""
    chosen = _choice("loop", _LOOPS, value)
    if chosen == "auto":
        return "uvloop" if _installed("uvloop") else "asyncio"
    if chosen == "uvloop" and not _installed("uvloop"):
        raise SettingError("DYLIVE_LOOP=uvloop but uvloop is not installed (pip install uvloop)")
    return chosen


def http_name(value: str | None = None) -> str:
    """``httptools`` or ``h11``: the HTTP/1.1 implementation handed to uvicorn."""
    chosen = _choice("http", _HTTP, value)
    if chosen == "auto":
        return "httptools" if _installed("httptools") else "h11"
    if chosen == "httptools" and not _installed("httptools"):
        raise SettingError("DYLIVE_HTTP=httptools but httptools is not installed")
    return chosen


def loop_factory(value: str | None = None) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """A factory of the chosen event loop (None: asyncio's default)."""
    if loop_name(value) != "uvloop":
        return None
    import uvloop

    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def forwarded_allow_ips(value: str | None = None) -> list[str]:
    """Setting ``forwarded_allow_ips``: the reverse proxies trusted to report the client's
    address (``X-Forwarded-For``) and scheme (``X-Forwarded-Proto``), as addresses, networks
    (``10.0.0.0/8``) or ``*``; by default the loopback addresses (uvicorn's own default: a
    reverse proxy on the same host); empty: none, and uvicorn's proxy-headers middleware is left
    out of the request path (each request's client is the connection's peer)."""
    text = value if value is not None else settings.get("forwarded_allow_ips")
    trusted = [item.strip() for item in text.split(",") if item.strip()]
    for item in trusted:
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            env = settings.SETTINGS["forwarded_allow_ips"].env
            raise SettingError(
                f"{env} must list IP addresses or networks (or *), not {item!r}"
            ) from None
    return trusted


#: (gen0, gen1, gen2) thresholds of the cyclic garbage collector while the service runs
GC_THRESHOLDS = (20_000, 20, 20)


def ws_compression(value: str | None = None) -> str:
    """Setting ``ws_compression``: permessage-deflate of the WebSocket routes. ``shared`` (default)
    compresses each message once for every client (serve/wsdeflate.py: no context takeover, about
    twice the bytes of ``per-client`` for a tenth of the CPU per client); ``per-client`` is
    websockets' own (each client's compressor keeps its history); ``off`` sends frames as they
    are."""
    return _choice("ws_compression", _WS_COMPRESSION, value)


def tune_gc(value: str | None = None) -> bool:
    """Setting ``gc``: ``tuned`` (default) moves what is alive at start-up (modules, classes,
    the settings) out of the collector's sight (``gc.freeze``) and collects the youngest
    generation every 20,000 allocations instead of 700. The service allocates a few short-lived
    objects per message and request, which die young: with the defaults each young collection
    also promoted what was in flight to the older generations, whose full collections then walk
    every live row of the tail cache. ``default`` leaves Python's settings. True when tuned."""
    chosen = _choice("gc", ("tuned", "default"), value)
    if chosen == "default":
        return False
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return True


def run(main: Coroutine[Any, Any, T], *, loop: str | None = None) -> T:
    """``asyncio.run(main)`` on the chosen event loop (the collector tuned: :func:`tune_gc`)."""
    tune_gc()
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(main)
