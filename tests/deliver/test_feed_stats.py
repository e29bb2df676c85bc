"""The feed's counters count what a client is sent: a client with ``methods`` is not counted for
the messages its methods skip (``dylive_feed_messages_total``)."""

from __future__ import annotations

from typing import Any

import orjson

from dylive.deliver.feed import DyliveFormat, FeedSession, FeedStats
from dylive.store import StoredMessage

CHAT, LIKE = "WebcastChatMessage", "WebcastLikeMessage"


class Sink:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_text(self, data: str) -> None:
        self.sent.append(data)

    async def receive_text(self) -> str:  # pragma: no cover - not read here
        raise AssertionError("not read")

    async def close(self, code: int = 1000, reason: str | None = None) -> None:  # pragma: no cover
        pass


def _message(seq: int, method: str) -> StoredMessage:
    return StoredMessage(seq, 77, 1000 + seq, method, 1, 2, b'{"seq":%d}' % seq)


async def test_a_filtered_client_counts_only_the_messages_it_is_sent() -> None:
    sink, stats = Sink(), FeedStats()
    none: Any = None  # the hub and store are not used by a delivery
    session = FeedSession(sink, none, none, 77, 0, DyliveFormat(77, frozenset({CHAT})), stats)
    batch = [_message(1, CHAT), _message(2, LIKE), _message(3, LIKE), _message(4, CHAT)]
    await session._deliver(batch, 4)
    (frame,) = (orjson.loads(f) for f in sink.sent)
    assert [m["seq"] for m in frame["messages"]] == [1, 4] and frame["last_seq"] == 4
    assert stats.messages == 2 and stats.frames == 1
    await session._deliver([_message(5, LIKE)], 5)  # nothing wanted: no frame, nothing counted
    assert stats.messages == 2 and stats.frames == 1
