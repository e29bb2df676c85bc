"""Douyin request signing, pure Python (request-signing.md, douyin-protocol.md §2.1).

Pure, injectable algorithms (all clocks and random inputs are parameters):

- :func:`signature_stub` / :func:`webcast_signature`: the push WebSocket ``signature``.
- :func:`a_bogus_v1` (salt ``cus``) and :func:`a_bogus_v2` (salt ``dhzx``): raw a_bogus values.
- :func:`x_bogus`: the older X-Bogus parameter.
- :func:`ac_signature`: the short ``__ac_signature`` cookie answering an ``__ac_nonce``.

Production wrappers (clock from ``time``, randomness from ``secrets``):

- :func:`sign_push` (params → signature, per-process counter).
- :func:`sign_query` (query → query with ``&a_bogus=`` appended, percent-encoded).
- :func:`generate_mstoken`, :func:`new_ac_nonce`.

Decoding and verifying (for the simulator / a server):

- :func:`verify_webcast_signature` (stub, signature) → bool.
- :func:`decode_a_bogus` (either generation), :func:`decode_a_bogus_v1`,
  :func:`decode_a_bogus_v2` → :class:`V1Decoded` / :class:`V2Decoded`.
- :func:`verify_signed_query` (raw query, UA, strictness "off" | "format" | "full") →
  None or a short refusal reason.
- :func:`verify_ac_signature`, :func:`is_valid_mstoken`, :func:`mstoken_from_cookie`.
"""

from .abogus_v1 import V1Decoded, a_bogus_v1, decode_a_bogus_v1
from .abogus_v2 import V2Decoded, a_bogus_v2, decode_a_bogus_v2
from .acsig import ac_signature, new_ac_nonce, verify_ac_signature
from .mstoken import generate_mstoken, is_valid_mstoken, mstoken_from_cookie
from .push import sign_push, signature_stub, verify_webcast_signature, webcast_signature
from .signer import sign_query
from .verify import decode_a_bogus, verify_signed_query
from .xbogus import x_bogus

__all__ = [
    "V1Decoded",
    "V2Decoded",
    "a_bogus_v1",
    "a_bogus_v2",
    "ac_signature",
    "decode_a_bogus",
    "decode_a_bogus_v1",
    "decode_a_bogus_v2",
    "generate_mstoken",
    "is_valid_mstoken",
    "mstoken_from_cookie",
    "new_ac_nonce",
    "sign_push",
    "sign_query",
    "signature_stub",
    "verify_ac_signature",
    "verify_signed_query",
    "verify_webcast_signature",
    "webcast_signature",
    "x_bogus",
]
