"""Query-parameter parsers shared by the endpoints (chat, audience, SSE stream, WebSocket feeds):
each returns the parsed value or raises ``ApiError(BAD_PARAM | MISSING_ROOM)`` with a detail
naming the parameter."""

from __future__ import annotations

from collections.abc import Mapping

from dylive.app.delivery import DEFAULT_METHODS
from dylive.decode import DECODERS
from dylive.decode.methods import method_names
from dylive.numbers import ascii_uint
from dylive.store.cursor import CursorError, Position, parse_cursor, parse_internal_ext

from .errors import BAD_PARAM, MISSING_ROOM, ApiError

__all__ = [
    "DEFAULT_METHODS",
    "float_param",
    "int_param",
    "methods_param",
    "position",
    "position_param",
    "room_param",
]


def room_param(q: Mapping[str, str]) -> str:
    ident = (q.get("room_id") or "").strip()
    if not ident:
        raise ApiError(MISSING_ROOM)
    return ident


def int_param(q: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = q.get(name)
    if text is None or text == "":
        return default
    value = ascii_uint(text.strip(), max_digits=len(str(high)))
    if value is None:
        raise ApiError(BAD_PARAM, f"{name} must be an integer between {low} and {high}")
    if not low <= value <= high:
        raise ApiError(BAD_PARAM, f"{name} must be between {low} and {high}")
    return value


def float_param(q: Mapping[str, str], name: str, default: float, high: float) -> float:
    text = q.get(name)
    if text is None or text == "":
        return default
    if not text.isascii() or len(text) > 20:
        raise ApiError(BAD_PARAM, f"{name} must be a number")
    try:
        value = float(text)
    except ValueError:
        raise ApiError(BAD_PARAM, f"{name} must be a number") from None
    if not 0 <= value <= high:
        raise ApiError(BAD_PARAM, f"{name} must be between 0 and {high}")
    return value


#: ``methods`` texts already parsed (pollers send the same one on every request), bounded
_METHODS: dict[str, frozenset[str] | None] = {}
_METHODS_KEPT = 256


def methods_param(q: Mapping[str, str]) -> frozenset[str] | None:
    """The method set to include (None = all); default: the contract's set."""
    text = q.get("methods")
    if text is None:
        return DEFAULT_METHODS
    try:
        return _METHODS[text]
    except KeyError:
        pass
    wanted = _parse_methods(text)
    if len(text) <= 256:  # what pollers send; a long one is parsed each time
        if len(_METHODS) >= _METHODS_KEPT:
            _METHODS.clear()
        _METHODS[text] = wanted
    return wanted


def _parse_methods(text: str) -> frozenset[str] | None:
    if not text.strip():
        return DEFAULT_METHODS
    try:
        wanted = method_names(text, known=DECODERS)
    except ValueError as exc:
        raise ApiError(BAD_PARAM, str(exc)) from None
    if wanted is None and "all" not in (n.strip().lower() for n in text.split(",")):
        raise ApiError(BAD_PARAM, "methods is empty")
    return wanted


def position(q: Mapping[str, str]) -> Position | None:
    """The position named by ``cursor`` (preferred) or ``internal_ext``; None when neither is
    given."""
    try:
        if cursor := q.get("cursor"):
            return parse_cursor(cursor)
        if ext := q.get("internal_ext"):
            return parse_internal_ext(ext)
    except CursorError as exc:
        raise ApiError(BAD_PARAM, str(exc)) from None
    return None


def position_param(q: Mapping[str, str]) -> int | None:
    """The seq named by ``cursor`` (preferred) or ``internal_ext``; None when neither is given."""
    given = position(q)
    return given.seq if given is not None else None
