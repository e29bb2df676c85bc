"""Server-side checks of signed queries (request-signing.md §4): one entry point for the simulator."""

from __future__ import annotations

import time
from urllib.parse import unquote

from .abogus_v1 import V1Decoded, check_hashes_v1, decode_a_bogus_v1
from .abogus_v2 import V2Decoded, check_hashes_v2, decode_a_bogus_v2
from .primitives import S4, unmix

__all__ = ["STRICTNESS_LEVELS", "decode_a_bogus", "split_signed_query", "verify_signed_query"]

STRICTNESS_LEVELS = ("off", "format", "full")
DEFAULT_AID = 6383
DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000


def split_signed_query(raw_query: str) -> tuple[str, str] | None:
    """Split a raw query into (signed part, raw a_bogus value still percent-encoded).

    The signed part is everything before ``&a_bogus=``. Returns None when there is no
    ``a_bogus`` parameter; raises ValueError when it is not the last parameter.
    """
    q = raw_query.removeprefix("?")
    idx = q.rfind("&a_bogus=")
    if idx >= 0:
        signed, encoded = q[:idx], q[idx + len("&a_bogus=") :]
    elif q.startswith("a_bogus="):
        signed, encoded = "", q[len("a_bogus=") :]
    else:
        return None
    if "&" in encoded:
        raise ValueError("a_bogus is not the last parameter")
    return signed, encoded


def decode_a_bogus(value: str) -> V1Decoded | V2Decoded:
    """Decode an a_bogus value of either generation (raw, not percent-encoded).

    The generation is told by the seeds of the first 4 bytes: (3, 45) for v1, (3, 82) for v2.
    Raises ValueError when the value is malformed.
    """
    head = S4.decode(value[:8])
    if len(head) < 4:
        raise ValueError("a_bogus too short")
    seeds = unmix(head[:4])[2:]
    if seeds == (3, 45):
        return decode_a_bogus_v1(value)
    if seeds == (3, 82):
        return decode_a_bogus_v2(value)
    raise ValueError("unknown a_bogus generation")


def verify_signed_query(
    raw_query: str,
    user_agent: str,
    *,
    strictness: str,
    body: str = "",
    aid: int | None = DEFAULT_AID,
    now_ms: int | None = None,
    max_skew_ms: int | None = DEFAULT_MAX_SKEW_MS,
) -> str | None:
    """Check the ``a_bogus`` of a request; None when acceptable, else a short reason.

    ``raw_query`` is the query string exactly as received (optionally with a leading ``?``);
    ``a_bogus`` must be its last parameter, percent-encoded. ``user_agent`` is the request's
    User-Agent header and ``body`` its body (``""`` for GET).

    Strictness:

    - ``"off"``: accept everything (Douyin at times accepted even ``a_bogus=111``).
    - ``"format"``: ``a_bogus`` present, last, and decodes structurally as v1 or v2 (seeds,
      header constants, lengths, XOR checksum, v2 time string), with the expected ``aid``
      (``aid=None`` skips that).
    - ``"full"``: also the embedded hash bytes of the signed query (everything before
      ``&a_bogus=``), of ``body`` and of ``user_agent``, and the signing clock (v1 ``t_a``,
      v2 ``t_sign``) within ``max_skew_ms`` of ``now_ms`` (default: the current time;
      ``max_skew_ms=None`` skips the clock check).

    Only a few bytes of each hash are embedded (2 in v1, 3 in v2), so a tampered request
    passes "full" with probability 2^-16 resp. 2^-24 per hash.
    """
    if strictness not in STRICTNESS_LEVELS:
        raise ValueError(f"strictness must be one of {STRICTNESS_LEVELS}, not {strictness!r}")
    if strictness == "off":
        return None
    try:
        split = split_signed_query(raw_query)
    except ValueError as exc:
        return str(exc)
    if split is None:
        return "a_bogus missing"
    signed, encoded = split
    value = unquote(encoded)
    if not value:
        return "a_bogus empty"
    try:
        decoded = decode_a_bogus(value)
    except ValueError as exc:
        return f"a_bogus malformed: {exc}"
    if aid is not None and decoded.aid != aid:
        return "a_bogus aid mismatch"
    if strictness == "format":
        return None

    if isinstance(decoded, V1Decoded):
        reason = check_hashes_v1(decoded, signed, body, user_agent)
        t_ms = decoded.t_a_ms
    else:
        reason = check_hashes_v2(decoded, signed, body, user_agent)
        t_ms = decoded.t_sign_ms
    if reason is not None:
        return reason
    if max_skew_ms is not None:
        now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        if abs(now - t_ms) > max_skew_ms:
            return "a_bogus timestamp out of range"
    return None
