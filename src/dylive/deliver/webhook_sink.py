"""Sending one batch to a webhook: the body, the signatures, and a careful HTTP POST.

Request::

    POST <url>
    Content-Type: application/json
    User-Agent: dylive-webhook/<version>
    webhook-id: msg_<webhook id>_<room>_<first seq>_<last seq>   (stable across retries)
    webhook-timestamp: <unix seconds when this attempt was sent>
    webhook-signature: v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">
    X-Dylive-Webhook: <webhook id>
    X-Dylive-Delivery: <delivery id: room-firstseq-lastseq, stable across retries>
    X-Dylive-Timestamp: <the same unix seconds>
    X-Dylive-Attempt: <1, 2, …>
    X-Dylive-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>

    {"webhook_id": 1, "room_id": 7..., "delivery_id": "...", "sent_at": <ms>,
     "messages": [<rendered messages, exactly as the chat endpoint renders them>]}

The ``webhook-*`` headers follow the Standard Webhooks specification: a ``whsec_<base64>``
secret keys that HMAC with its decoded bytes (any other secret with its UTF-8 bytes), and while a
rotated-out secret is still in its grace period ``webhook-signature`` lists one signature per
secret, space-separated (the current secret's first). ``X-Dylive-Signature`` stays keyed with the
secret string's UTF-8 bytes, as before; during a grace period ``X-Dylive-Signature-Previous`` carries
the same signature by the previous secret.

``sent_at`` is inside the signed body, so a receiver can refuse old replays. Only a 2xx answer
acknowledges; redirects are not followed (a 3xx is a failure), the answer body is read up to
``max_response`` bytes and then dropped, and connect/read/write timeouts bound every attempt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from dylive import __version__
from dylive.errors import DyliveError

from .http_post import Poster, PostError
from .outbox import Batch
from .targets import Target, resolve_target

#: The prefix of a Standard Webhooks secret: ``whsec_`` + the base64 of the HMAC key.
SECRET_PREFIX = "whsec_"


class DeliveryFailed(DyliveError):
    """The receiver did not acknowledge (status, timeout, connection error, refused target)."""


def sign(secret: str, body: bytes) -> str:
    """The ``X-Dylive-Signature`` value for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, header: str) -> bool:
    """Constant-time check of a signature header (what a receiver does)."""
    return hmac.compare_digest(sign(secret, body), header)


def whsec_key(secret: str) -> bytes | None:
    """The key of a ``whsec_<standard base64>`` secret (padding optional); None for any other."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    text = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def standard_key(secret: str) -> bytes:
    """The Standard Webhooks HMAC key of ``secret``: the decoded bytes of a ``whsec_`` secret,
    the UTF-8 bytes of any other (a receiver passes those bytes, or ``whsec_`` + their base64)."""
    key = whsec_key(secret)
    return key if key is not None else secret.encode()


def standard_id(hook_id: int, batch: Batch) -> str:
    """The ``webhook-id`` of a batch: its webhook, room and seq range (the same on every retry
    and on a dead letter's replay)."""
    first = batch.messages[0].seq if batch.messages else batch.last_seq
    return f"msg_{hook_id}_{batch.room_id}_{first}_{batch.last_seq}"


def standard_signature(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC>`` per secret, space-separated."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1,"
        + base64.b64encode(hmac.new(standard_key(s), signed, hashlib.sha256).digest()).decode()
        for s in secrets
    )


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
    """The outbox sink of one webhook (``send`` raises DeliveryFailed unless answered 2xx).

    It signs with its current secret and, until ``previous_until`` (unix ms), also with the
    previous one (a rotation's grace period); :meth:`rekey` changes both while it runs.
    """

    def __init__(
        self,
        hook_id: int,
        url: str,
        secret: str,
        client: Poster,
        *,
        allow_private: bool = False,
        max_response: int = 4096,
        previous_secret: str = "",
        previous_until: int = 0,
    ) -> None:
        self.hook_id = hook_id
        self.url = url
        self._secret = secret
        self._previous = previous_secret
        self._previous_until = previous_until
        self._client = client
        self._allow_private = allow_private
        self._max_response = max_response
        self.last_status = 0
        self.last_latency = 0.0
        self._fixed: Target | None = None

    def __repr__(self) -> str:  # never the secret
        return f"WebhookSink(id={self.hook_id}, url={self.url!r})"

    def rekey(self, secret: str, previous_secret: str = "", previous_until: int = 0) -> None:
        """Sign with ``secret`` from now on, and with ``previous_secret`` until ``previous_until``."""
        self._secret = secret
        self._previous = previous_secret
        self._previous_until = previous_until

    def secrets(self, now_ms: int) -> list[str]:
        """The secrets that sign at ``now_ms``: the current one first."""
        if self._previous and now_ms < self._previous_until and self._previous != self._secret:
            return [self._secret, self._previous]
        return [self._secret]

    async def send(self, batch: Batch) -> None:
        now_ms = time.time_ns() // 1_000_000
        body = webhook_body(self.hook_id, batch, now_ms)
        extra = {"X-Dylive-Delivery": batch.delivery_id, "X-Dylive-Attempt": str(batch.attempt)}
        await self._post(body, extra, standard_id(self.hook_id, batch), now_ms)

    async def send_event(self, event: dict[str, Any], delivery_id: str, attempt: int) -> None:
        """An event that is not a stored message (``live_status``), signed the same way; the
        body is ``{"webhook_id", "event", "delivery_id", "sent_at", …event}`` and its
        ``webhook-id`` is ``evt_<webhook>_<delivery_id>`` (the same on every attempt)."""
        now_ms = time.time_ns() // 1_000_000
        head = {"webhook_id": self.hook_id, "event": event.get("event", ""), "delivery_id": ""}
        body = orjson.dumps({**head, "delivery_id": delivery_id, "sent_at": now_ms, **event})
        extra = {
            "X-Dylive-Delivery": delivery_id,
            "X-Dylive-Attempt": str(attempt),
            "X-Dylive-Event": str(event.get("event", "")),
        }
        await self._post(body, extra, f"evt_{self.hook_id}_{delivery_id}", now_ms)

    async def _target(self) -> Target:
        """The checked target; a URL with an IP address is checked once (no DNS to change)."""
        if self._fixed is not None:
            return self._fixed
        target = await resolve_target(self.url, allow_private=self._allow_private)
        if target.host == target.address:
            self._fixed = target
        return target

    async def _post(self, body: bytes, extra: dict[str, str], msg_id: str, now_ms: int) -> None:
        target = await self._target()
        stamp = now_ms // 1000
        secrets = self.secrets(now_ms)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"dylive-webhook/{__version__}",
            "Host": _host_header(target.host, target.port, target.scheme),
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": standard_signature(secrets, msg_id, stamp, body),
            "X-Dylive-Webhook": str(self.hook_id),
            **extra,
            "X-Dylive-Timestamp": str(stamp),
            "X-Dylive-Signature": sign(secrets[0], body),
        }
        if len(secrets) > 1:
            headers["X-Dylive-Signature-Previous"] = sign(secrets[1], body)
        origin = (target.scheme, target.address, target.port, target.host)
        started = time.perf_counter()
        try:
            status, snippet = await self._client.post(
                origin, _request_target(self.url), headers, body, self._max_response
            )
        except PostError as exc:
            self.last_status = 0
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        finally:
            self.last_latency = time.perf_counter() - started
        self.last_status = status
        if 200 <= status < 300:
            return
        note = " (redirects are not followed)" if 300 <= status < 400 else ""
        text = snippet.decode("utf-8", "replace").strip()[:200]
        raise DeliveryFailed(f"HTTP {status}{note}: {text}".rstrip(": "))


def _request_target(url: str) -> str:
    """The path and query of ``url`` as sent (percent-encoded where the URL was not)."""
    parts = urlsplit(url)
    target = quote(parts.path or "/", safe=_SAFE)
    return f"{target}?{quote(parts.query, safe=_SAFE + '?')}" if parts.query else target


_SAFE = "/%:@!$&'()*+,;=-._~"


def _host_header(host: str, port: int, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return shown if port == default else f"{shown}:{port}"
