"""``ServiceConfig``: everything ``dylive serve`` can set (CLI options / DYLIVE_* settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dylive import settings
from dylive.collect import Resolver, SourceFactory, Tuning
from dylive.deliver.feed import FeedSettings
from dylive.deliver.webhooks import WebhookSettings
from dylive.identity.pool import PoolOptions
from dylive.store import EventStore


@dataclass
class ServiceConfig:
    """Everything ``dylive serve`` can set (CLI options / DYLIVE_* settings)."""

    db: str = "dylive.sqlite3"
    upstream: str = "https://live.douyin.com"
    user_agent: str = settings.DEFAULT_USER_AGENT
    cookie: str = ""
    proxy: str = ""  # HTTP or SOCKS proxy for every upstream request ("" = direct)
    signing: str = "v2"
    pins: list[str] = field(default_factory=list)
    idle_timeout: float = 300.0
    retention_hours: float = 0.0  # 0 = keep forever
    # usage counters / audit entries older than this many days are deleted (0 = keep forever;
    # `dylive serve` takes DYLIVE_USAGE_RETENTION_DAYS (400) through from_settings); see
    # dylive.app.retention; the retention pass runs every retention_interval seconds
    usage_retention_days: float = 0.0
    audit_retention_days: float = 0.0
    retention_interval: float = 600.0
    page_size: int = 50
    max_page: int = 500
    max_wait: float = 30.0
    fetch_interval: int = 1000
    ranklist: bool = True
    # msg_ids each collector remembers (~100 bytes each): the store dedupes exactly by
    # (room_id, msg_id), so the collector's window only needs to cover reconnect replays
    dedupe_capacity: int = 10_000
    #: Identity pool tunables (max rooms per identity, cooldowns, guests, pacing).
    pool: PoolOptions = field(default_factory=PoolOptions)
    resolver: Resolver | None = None
    source_factory: SourceFactory | None = None
    store: EventStore | None = None
    ingest: Tuning = field(default_factory=Tuning)
    # events read upstream and not stored yet, across every room, before reading pauses
    # (``overloaded``; 0 = no global bound): used unless ``ingest.budget`` is given
    pending_limit: int = 100_000
    # seconds of event loop lag above which reading upstream pauses until it recovers (0 = off;
    # `dylive serve` takes DYLIVE_LAG_LIMIT (1) through from_settings)
    lag_limit: float = 0.0
    webhook_settings: WebhookSettings = field(default_factory=WebhookSettings)
    feed_settings: FeedSettings = field(default_factory=FeedSettings)
    douyinlive_token: str = ""  # token name used by /ws/{live_id} clients that send none
    # requests/s per client address without a valid token (0 = off); `dylive serve` takes
    # DYLIVE_ANON_RATE (5) through from_settings
    anon_rate: float = 0.0
    # fleet (PostgreSQL only): None = on for a postgresql:// database, off for SQLite
    fleet: bool | None = None
    node_id: str = ""  # default: host name + pid
    max_rooms: int = 500  # rooms this node collects at most
    lease_ttl: float = 10.0
    fleet_tick: float = 1.0
    # followed rooms (pinned / polled) between broadcasts: status checks at most
    # ``follow_interval`` s apart for an hour after a broadcast, backing off to ``follow_ceiling``
    follow_interval: float = 10.0
    follow_ceiling: float = 600.0
    sink: str = ""  # nats://host:port[?stream=NAME&prefix=P]: publish every stored message
    # usage metering (dylive.app.usage): counted in memory, flushed every usage_flush seconds
    metering: bool = True
    usage_flush: float = 2.0
    # sha256 hex digest of the admin API key ("" = admin API off); never the key itself
    admin_key_digest: str = ""

    @classmethod
    def from_settings(cls, **overrides: Any) -> ServiceConfig:
        base = cls(
            db=settings.get("db"),
            upstream=settings.get("upstream"),
            user_agent=settings.get("user_agent"),
            cookie=settings.get("cookie"),
            proxy=settings.get("proxy"),
            signing=settings.get("signing"),
            idle_timeout=settings.number("idle_timeout", overrides.get("idle_timeout")),
            retention_hours=settings.number("retention_hours", overrides.get("retention_hours")),
            usage_retention_days=settings.number(
                "usage_retention_days", overrides.get("usage_retention_days")
            ),
            audit_retention_days=settings.number(
                "audit_retention_days", overrides.get("audit_retention_days")
            ),
            follow_interval=max(1.0, settings.number("follow_interval")),
            follow_ceiling=max(1.0, settings.number("follow_ceiling")),
            anon_rate=settings.number("anon_rate"),
            pending_limit=int(settings.number("pending_limit")),
            lag_limit=settings.number("lag_limit"),
            pool=PoolOptions(
                max_rooms=max(1, int(settings.number("identity_max_rooms"))),
                allow_guests=settings.get("allow_guests").strip().lower() in ("1", "true", "yes"),
            ),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(base, key, value)
        return base
