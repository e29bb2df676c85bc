"""One declarative settings table: name, default, DYLIVE_* environment variable, help.

Command-line options override environment variables, which override the defaults below.
A test checks that every setting is documented in docs/settings.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dylive.errors import DyliveError

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/138.0.0.0 Safari/537.36"
)
#: ``webcast_sdk_version`` / ``update_version_code`` of the push URL (part of the signed stub).
DEFAULT_SDK_VERSION = "1.0.15"


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: str
    help: str

    @property
    def env(self) -> str:
        return "DYLIVE_" + self.name.upper()

    def get(self) -> str:
        return os.environ.get(self.env, self.default)


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "upstream",
            "https://live.douyin.com",
            "Base URL of Douyin's web live host; point it at `dylive sim` (http://127.0.0.1:9000).",
        ),
        Setting("push_url", "", "Override the push WebSocket base URL (default: from im/fetch)."),
        Setting("user_agent", DEFAULT_USER_AGENT, "User-Agent sent (and signed) on every request."),
        Setting(
            "sdk_version",
            DEFAULT_SDK_VERSION,
            "webcast_sdk_version of the push handshake (part of its signature input).",
        ),
        Setting(
            "cookie", "", "Cookie header or path of a cookie file (Netscape or `Cookie:` line)."
        ),
        Setting("proxy", "", "HTTP or SOCKS proxy URL for upstream traffic."),
        Setting("signing", "v2", "a_bogus generation for HTTP requests: v1, v2 or off."),
        Setting("db", "dylive.sqlite3", "SQLite file path, or a postgresql:// URL."),
        Setting("host", "127.0.0.1", "Address the API service listens on."),
        Setting("port", "8000", "Port of the API service."),
        Setting("log_level", "info", "Logging level: debug, info, warning, error."),
        Setting(
            "log_format",
            "text",
            "Log line format: text, or json (one JSON object per line, for log shippers).",
        ),
        Setting(
            "idle_timeout", "300", "Seconds a polled room stays collected without polls (serve)."
        ),
        Setting(
            "admin_key",
            "",
            "Enables the admin API with this key (at least 16 characters; only its digest is kept).",
        ),
        Setting(
            "follow_interval",
            "10",
            "Seconds between status checks of a followed room for an hour after its broadcast.",
        ),
        Setting(
            "follow_ceiling",
            "600",
            "Longest wait between status checks of a followed room offline for days (seconds).",
        ),
        Setting(
            "retention_hours", "0", "Delete stored messages older than this (0 = keep forever)."
        ),
        Setting(
            "usage_retention_days",
            "400",
            "Delete usage counters (token_usage, token_usage_rooms) of hours older than this many"
            " days, never of the current UTC month (0 = keep forever).",
        ),
        Setting(
            "audit_retention_days",
            "0",
            "Delete admin audit entries older than this many days (0 = keep forever).",
        ),
        Setting(
            "identity_max_rooms",
            "10",
            "Rooms one identity collects at a time (unless its own --max-rooms says otherwise).",
        ),
        Setting(
            "allow_guests",
            "false",
            "Collect as a guest when every stored identity is busy or unhealthy (true/false).",
        ),
        Setting(
            "loop", "auto", "Event loop of the service and the simulator: auto, uvloop or asyncio."
        ),
        Setting(
            "gc",
            "tuned",
            "Garbage collector of the service and the simulator: tuned (start-up objects frozen, young collections"
            " every 20,000 allocations) or default (Python's settings).",
        ),
        Setting("http", "auto", "HTTP/1.1 parser of the service: auto, httptools or h11."),
        Setting(
            "ws_compression",
            "shared",
            "permessage-deflate of the service's WebSocket routes: shared (each message compressed"
            " once for all clients), per-client (each client's own compressor) or off.",
        ),
        Setting(
            "forwarded_allow_ips",
            "127.0.0.1,::1",
            "Addresses (or networks, or *) of trusted reverse proxies whose X-Forwarded-For /"
            " X-Forwarded-Proto the service honours (comma-separated; empty: none, the"
            " connection's address is the client's, and no proxy-headers middleware runs).",
        ),
        Setting(
            "anon_rate",
            "5",
            "Requests/s per client address without a valid token (0 = unlimited).",
        ),
        Setting(
            "pg_poll_interval",
            "1",
            "PostgreSQL: seconds between re-checks of a waiting long-poll while the notification"
            " listener is down (with it up, waits wake on NOTIFY only).",
        ),
        Setting(
            "commit_interval",
            "0.02",
            "Seconds between the store's commits while several writers are busy (group commit;"
            " 0 = commit as soon as the previous one is done).",
        ),
        Setting(
            "history_snapshot",
            "0.5",
            "SQLite: seconds a read snapshot is kept for history chat pages (their page cache"
            " survives the writer's commits; 0 = every page reads the latest state).",
        ),
        Setting(
            "pending_limit",
            "100000",
            "Messages read upstream and not stored yet, across all rooms, before reading pauses"
            " (serve; /healthz says overloaded; 0 = no global bound).",
        ),
        Setting(
            "lag_limit",
            "1",
            "Seconds of event loop lag above which serve pauses reading upstream until it"
            " recovers (CPU overload; /healthz says overloaded; 0 = off).",
        ),
        Setting(
            "room_limit",
            "10",
            "Rooms a new token may poll at a time, unless `token create --room-limit` (0 = no limit).",
        ),
    )
}


def get(name: str) -> str:
    """The effective value of setting ``name`` (environment, else default)."""
    return SETTINGS[name].get()


class SettingError(DyliveError):
    """A setting (command-line option or DYLIVE_* variable) has an unusable value."""


def number(name: str, given: float | None = None) -> float:
    """A non-negative number: ``given`` (an option's value) if set, else setting ``name``."""
    if given is None:
        text = get(name)
        try:
            given = float(text)
        except ValueError:
            raise SettingError(f"{SETTINGS[name].env} must be a number, not {text!r}") from None
    if not given >= 0:
        raise SettingError(f"{name.replace('_', '-')} must be a number >= 0, not {given}")
    return given
