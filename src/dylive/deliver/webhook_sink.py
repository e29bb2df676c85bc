"""Sending one batch to a webhook: the body, the signature, and a careful HTTP POST.

Request::

    POST <url>
    Content-Type: application/json
    User-Agent: dylive-webhook/<version>
    X-Dylive-Webhook: <webhook id>
    X-Dylive-Delivery: <delivery id: room-firstseq-lastseq, stable across retries>
    X-Dylive-Timestamp: <unix seconds when this attempt was sent>
    X-Dylive-Attempt: <1, 2, …>
    X-Dylive-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>

    {"webhook_id": 1, "room_id": 7..., "delivery_id": "...", "sent_at": <ms>,
     "messages": [<rendered messages, exactly as the chat endpoint renders them>]}

``sent_at`` is inside the signed body, so a receiver can refuse old replays. Only a 2xx answer
acknowledges; redirects are not followed (a 3xx is a failure), the answer body is read up to
``max_response`` bytes and then dropped, and connect/read/write timeouts bound every attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
import orjson

from dylive import __version__
from dylive.errors import DyliveError

from .outbox import Batch
from .targets import resolve_target


class DeliveryFailed(DyliveError):
    """The receiver did not acknowledge (status, timeout, connection error, refused target)."""


def sign(secret: str, body: bytes) -> str:
    """The ``X-Dylive-Signature`` value for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, header: str) -> bool:
    """Constant-time check of a signature header (what a receiver does)."""
    return hmac.compare_digest(sign(secret, body), header)


def webhook_body(hook_id: int, batch: Batch, sent_at: int) -> bytes:
    """The request body: the rendered messages spliced in as stored (no re-serialization)."""
    head = orjson.dumps(
        {
            "webhook_id": hook_id,
            "room_id": batch.room_id,
            "delivery_id": batch.delivery_id,
            "sent_at": sent_at,
        }
    )
    messages = b",".join(m.rendered for m in batch.messages)
    return head[:-1] + b',"messages":[' + messages + b"]}"


class WebhookSink:
    """The outbox sink of one webhook (``send`` raises DeliveryFailed unless answered 2xx)."""

    def __init__(
        self,
        hook_id: int,
        url: str,
        secret: str,
        client: httpx.AsyncClient,
        *,
        allow_private: bool = False,
        max_response: int = 4096,
    ) -> None:
        self.hook_id = hook_id
        self.url = url
        self._secret = secret
        self._client = client
        self._allow_private = allow_private
        self._max_response = max_response
        self.last_status = 0
        self.last_latency = 0.0

    def __repr__(self) -> str:  # never the secret
        return f"WebhookSink(id={self.hook_id}, url={self.url!r})"

    async def send(self, batch: Batch) -> None:
        body = webhook_body(self.hook_id, batch, time.time_ns() // 1_000_000)
        extra = {"X-Dylive-Delivery": batch.delivery_id, "X-Dylive-Attempt": str(batch.attempt)}
        await self._post(body, extra)

    async def send_event(self, event: dict[str, Any], delivery_id: str, attempt: int) -> None:
        """An event that is not a stored message (``live_status``), signed the same way; the
        body is ``{"webhook_id", "event", "delivery_id", "sent_at", …event}``."""
        head = {"webhook_id": self.hook_id, "event": event.get("event", ""), "delivery_id": ""}
        sent = {"sent_at": time.time_ns() // 1_000_000}
        body = orjson.dumps({**head, "delivery_id": delivery_id, **sent, **event})
        extra = {
            "X-Dylive-Delivery": delivery_id,
            "X-Dylive-Attempt": str(attempt),
            "X-Dylive-Event": str(event.get("event", "")),
        }
        await self._post(body, extra)

    async def _post(self, body: bytes, extra: dict[str, str]) -> None:
        target = await resolve_target(self.url, allow_private=self._allow_private)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"dylive-webhook/{__version__}",
            "Host": _host_header(target.host, target.port, target.scheme),
            "X-Dylive-Webhook": str(self.hook_id),
            **extra,
            "X-Dylive-Timestamp": str(int(time.time())),
            "X-Dylive-Signature": sign(self._secret, body),
        }
        url = httpx.URL(self.url).copy_with(host=target.address)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request = self._client.build_request(
            "POST", url, content=body, headers=headers, extensions=extensions
        )
        started = time.perf_counter()
        try:
            response = await self._client.send(request, stream=True, follow_redirects=False)
            try:
                snippet = await self._read_some(response)
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            self.last_status = 0
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        finally:
            self.last_latency = time.perf_counter() - started
        self.last_status = response.status_code
        if 200 <= response.status_code < 300:
            return
        note = " (redirects are not followed)" if 300 <= response.status_code < 400 else ""
        text = snippet.decode("utf-8", "replace").strip()[:200]
        raise DeliveryFailed(f"HTTP {response.status_code}{note}: {text}".rstrip(": "))

    async def _read_some(self, response: httpx.Response) -> bytes:
        """At most ``max_response`` bytes of the answer (the rest is never read)."""
        data = b""
        async for chunk in response.aiter_raw():
            data += chunk
            if len(data) >= self._max_response:
                break
        return data[: self._max_response]


def _host_header(host: str, port: int, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return shown if port == default else f"{shown}:{port}"
