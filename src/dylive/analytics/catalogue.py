"""Douyin's gift catalogue (``/webcast/gift/list/``), fetched once and cached.

``GET <upstream>/webcast/gift/list/?device_platform=webapp&aid=6383`` with a live-room referer
answers ``data.gifts[]`` with ``id, name, diamond_count, combo, type``. A GiftMessage normally
carries its gift's ``diamond_count``; the catalogue prices the ones that do not. The list is kept
for ``ttl`` seconds; a failed fetch is logged and not retried for ``retry_after`` seconds (the
last good list stays in use).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from dylive import settings

log = logging.getLogger(__name__)

PATH = "/webcast/gift/list/"


class GiftCatalogue:
    """``await catalogue.ensure()``, then ``catalogue.prices`` (gift id → diamonds)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        upstream: str,
        *,
        user_agent: str = settings.DEFAULT_USER_AGENT,
        cookie: str = "",
        ttl: float = 6 * 3600.0,
        retry_after: float = 60.0,
    ) -> None:
        self._http = http
        self._upstream = upstream.rstrip("/")
        self._headers = {"user-agent": user_agent, "referer": f"{self._upstream}/"}
        if cookie:
            self._headers["cookie"] = cookie
        self._ttl = ttl
        self._retry_after = retry_after
        self.prices: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.fetched_at = 0.0
        self.fetches = 0
        self._next_try = 0.0

    async def ensure(self, missing: int = 0) -> None:
        """Fetch the list if it is stale, or if gift ``missing`` is not in it (rate-limited)."""
        now = time.monotonic()
        fresh = self.fetched_at and now - self.fetched_at < self._ttl
        if (fresh and (not missing or missing in self.prices)) or now < self._next_try:
            return
        self._next_try = now + self._retry_after
        try:
            gifts = await self._fetch()
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("gift catalogue: fetch failed: %s", exc or type(exc).__name__)
            return
        self.prices = {int(g["id"]): int(g.get("diamond_count") or 0) for g in gifts}
        self.names = {int(g["id"]): str(g.get("name") or "") for g in gifts}
        self.fetched_at = time.monotonic()
        log.info("gift catalogue: %s gifts", len(self.prices))

    async def _fetch(self) -> list[dict[str, Any]]:
        self.fetches += 1
        response = await self._http.get(
            self._upstream + PATH,
            params={"device_platform": "webapp", "aid": "6383"},
            headers=self._headers,
        )
        response.raise_for_status()
        gifts = response.json()["data"]["gifts"]
        if not isinstance(gifts, list):
            raise ValueError("data.gifts is not a list")
        return gifts
