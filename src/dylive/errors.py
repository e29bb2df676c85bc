"""One exception tree for dylive.

::

    DyliveError
    ├── ProtocolError            bytes that do not follow the Douyin wire format
    │   ├── FrameError           a PushFrame that cannot be parsed
    │   ├── PayloadTooLarge      a (gzip) payload over the hard size limit
    │   └── ResponseError        a Response body that cannot be parsed
    ├── RoomError                room resolution failures (carry room_id / web_rid)
    │   ├── InvalidRoom          an identifier that names no room in any accepted form
    │   ├── RoomNotFound
    │   └── RoomNotLive
    ├── RoomLimitReached         a token already polls as many rooms as it may (collection)
    ├── UpstreamError            HTTP/WebSocket failures talking to Douyin or the simulator
    │   ├── HandshakeRefused     push handshake answered 200 + handshake-status (DEVICE_BLOCKED …)
    │   ├── SignatureRefused     HTTP 200 with an empty body (a_bogus / cookie refused)
    │   └── VerificationRequired HTTP 200 with a verification (captcha) page, not the room
    └── StoreError               storage failures
        └── LeaseLost            a fenced write refused: another node holds the room's lease
"""

from __future__ import annotations


class DyliveError(Exception):
    """Base class of every error dylive raises on purpose."""

    def __init__(self, message: str, *, room_id: int | str | None = None) -> None:
        super().__init__(message)
        self.room_id = room_id


def one_line(exc: BaseException) -> str:
    """An error's message on one line (command-line reports: never a multi-line dump)."""
    return " ".join(str(exc).split()) or type(exc).__name__


class ProtocolError(DyliveError):
    """Bytes that do not follow the Douyin wire format."""


class FrameError(ProtocolError):
    """A PushFrame that cannot be parsed."""


class PayloadTooLarge(ProtocolError):
    """A payload that (after gunzip) exceeds the hard size limit: a gzip bomb or garbage."""


class ResponseError(ProtocolError):
    """A Response (push payload or im/fetch body) that cannot be parsed."""


class RoomError(DyliveError):
    """A room that cannot be resolved or joined."""


class InvalidRoom(RoomError):
    """An identifier that is neither a live URL, a web_rid nor a room_id."""


class RoomNotFound(RoomError):
    """The web_rid / room_id / URL names no room."""


class RoomNotLive(RoomError):
    """The room exists but is not broadcasting."""


class RoomLimitReached(DyliveError):
    """A token already polls as many rooms as its room limit allows."""


class UpstreamError(DyliveError):
    """A failure talking to Douyin (or a Douyin-compatible upstream)."""

    def __init__(
        self,
        message: str,
        *,
        room_id: int | str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, room_id=room_id)
        self.retry_after = retry_after


class HandshakeRefused(UpstreamError):
    """The push handshake was refused (HTTP 200 with handshake-status/handshake-msg headers)."""

    def __init__(self, status: str, message: str, *, room_id: int | str | None = None) -> None:
        super().__init__(f"handshake refused: {status} {message}", room_id=room_id)
        self.status = status
        self.handshake_msg = message


class SignatureRefused(UpstreamError):
    """An HTTP endpoint answered 200 with an empty body: Douyin's way to refuse a signature."""


class VerificationRequired(UpstreamError):
    """Douyin answered a verification (captcha) page instead of room data, also after the
    ttwid / ``__ac_nonce`` flow was redone: a challenge for this identity, not a missing room."""


class StoreError(DyliveError):
    """A storage failure.

    ``transient``: the same operation may succeed when retried later (connection lost, server
    restarting, database locked, disk full); False when the database refuses the data itself
    (e.g. a number out of range), which no retry changes.
    """

    def __init__(
        self, message: str, *, room_id: int | str | None = None, transient: bool = False
    ) -> None:
        super().__init__(message, room_id=room_id)
        self.transient = transient


class LeaseLost(StoreError):
    """A write carried a lease epoch that is no longer the room's current one (fencing).

    The node that sent it lost the room (its lease expired and another node took it over, or it
    handed the room off); it must stop collecting the room and never retry the write.
    """

    def __init__(self, room_id: int, node_id: str, epoch: int) -> None:
        super().__init__(
            f"room {room_id}: lease epoch {epoch} of node {node_id!r} is no longer current",
            room_id=room_id,
        )
        self.node_id = node_id
        self.epoch = epoch
