"""Fault settings of a simulated room: what goes wrong, and how often.

Every fault is off by default. Fractions are probabilities in [0, 1] drawn per frame (push) or
per request (HTTP) or per generated message (``unknown_methods``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

FRACTIONS = ("corrupt", "unknown_methods", "duplicates", "out_of_order", "http_5xx", "http_empty")


@dataclass(frozen=True, slots=True)
class Faults:
    """Per-room fault settings (see the module docstring of :mod:`dylive.sim.push`)."""

    #: Seconds after which the server drops each push socket (close 1001 "sim drop"); 0 = never.
    drop_every: float = 0.0
    #: Fraction of msg frames sent corrupted: alternately a broken gzip stream and a gzip of a
    #: truncated protobuf Response. The connection's position still advances (data is lost
    #: unless the client resumes from its last good cursor).
    corrupt: float = 0.0
    #: Fraction of generated messages that carry an unknown method name and a random payload.
    #: They are real messages: in the log, in im/fetch, on the socket.
    unknown_methods: float = 0.0
    #: Fraction of msg frames that additionally re-send one already-sent message (same msg_id,
    #: same payload). Never in the log twice.
    duplicates: float = 0.0
    #: Fraction of msg frames delivered out of order: a frame with >= 2 messages has them
    #: shuffled; a frame with one message is held back and sent after the next frame.
    out_of_order: float = 0.0
    #: Socket stays open and answers heartbeats; only RoomStats/RoomUserSeq messages flow and the
    #: cursor does not advance. Business messages are still logged and kept for resume.
    fake_alive: bool = False
    #: Refuse every push handshake like a bad signature (200 + handshake-status 415).
    refuse_handshake: bool = False
    #: Fraction of upstream HTTP requests answered 502 (room page, web/enter, im/fetch, ranklist).
    http_5xx: float = 0.0
    #: Fraction of upstream HTTP requests answered 200 with an empty body.
    http_empty: float = 0.0
    #: Delay added to every upstream HTTP response of the room, in ms.
    slow_ms: int = 0

    def merged(self, changes: dict[str, Any]) -> Faults:
        """A copy with ``changes`` applied; ``reset: true`` starts from all-off first.

        Raises ValueError for unknown names or bad values (the control plane answers 400).
        """
        if not isinstance(changes, dict):
            raise ValueError("faults must be a JSON object")
        base = Faults() if changes.get("reset") else self
        values: dict[str, Any] = {}
        names = {f.name for f in dataclasses.fields(Faults)}
        for key, value in changes.items():
            if key == "reset":
                continue
            if key not in names:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(sorted(names))}")
            values[key] = _check(key, value)
        return dataclasses.replace(base, **values)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check(key: str, value: Any) -> Any:
    if key in ("fake_alive", "refuse_handshake"):
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number")
    if key in FRACTIONS:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{key} must be a fraction between 0 and 1")
        return float(value)
    if key == "slow_ms":
        if not 0 <= value <= 120_000:
            raise ValueError("slow_ms must be between 0 and 120000")
        return int(value)
    if value < 0:  # drop_every
        raise ValueError(f"{key} must be >= 0")
    return float(value)
