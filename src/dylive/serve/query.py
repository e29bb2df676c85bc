"""The query string of a request as a plain ``{name: value}`` dict, parsed once per request.

Same result as Starlette's ``request.query_params.get(name)`` (``parse_qsl`` with blank values
kept, the last value of a repeated name wins) at a fraction of its cost: a query without ``%``
or ``+`` (what clients send: tokens, digits, cursors) is split directly; any other one goes
through ``parse_qsl`` itself.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

QUERY_KEY = "dylive.query"


def parse_query(raw: bytes) -> dict[str, str]:
    """``name -> value`` of a raw query string (latin-1 decoded, as Starlette does)."""
    text = raw.decode("latin-1")
    if "%" in text or "+" in text:
        return dict(parse_qsl(text, keep_blank_values=True))
    out: dict[str, str] = {}
    for part in text.split("&"):
        if part:
            name, _, value = part.partition("=")
            out[name] = value
    return out


def query_of(request: Any) -> dict[str, str]:
    """The request's query parameters, parsed on first use and kept in its ASGI scope."""
    return query_of_scope(request.scope)


def query_of_scope(scope: Any) -> dict[str, str]:
    """:func:`query_of` of an ASGI scope."""
    query: dict[str, str] | None = scope.get(QUERY_KEY)
    if query is None:
        query = scope[QUERY_KEY] = parse_query(scope.get("query_string", b""))
    return query
