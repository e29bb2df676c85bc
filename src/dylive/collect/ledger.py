"""The gift ledger of a collected room, rebuilt from the store so stored deltas stay exact.

Each stored gift message carries ``payload.gift.delta``: the number of new gifts it adds (see
:class:`dylive.decode.GiftLedger`). Summing the stored deltas of a room must never double-count a
combo, whatever restarts happen in between. The ledger lives in memory, so a fresh collector
(server restart, a room stopped when idle and started again, a source that failed and was
reopened) would otherwise see the rest of a combo in progress as new: a streak stored up to
repeat_count 5 whose next message says 6 would get delta 6 instead of 1.

So a room's ledger is rebuilt before its collector starts, by replaying every gift message the
store holds for that broadcast (decoded from the raw payloads, in store order). The ledger then
knows exactly what the store knows: a message that was counted but never stored (lost with a
killed process) is counted again when it is received again, and a message already stored gets
delta 0 (the store ignores it anyway, keyed by msg_id).
"""

from __future__ import annotations

import asyncio
import logging

from dylive.decode import GiftEvent, GiftLedger, decode
from dylive.store import EventLog
from dylive.wire.frames import RawMessage

log = logging.getLogger(__name__)

GIFT_METHOD = "WebcastGiftMessage"
_YIELD_EVERY = 2000  # let other rooms run while a long broadcast is replayed


async def ledger_from_store(store: EventLog, room_id: int) -> GiftLedger:
    """A GiftLedger that has seen every gift message stored for ``room_id``."""
    ledger = GiftLedger()
    rows = await store.messages_of(room_id, (GIFT_METHOD,), 0)
    for i, (_seq, msg_id, method, raw) in enumerate(rows, start=1):
        event = decode(RawMessage(method, msg_id, raw), room_id=room_id)
        if isinstance(event, GiftEvent):
            ledger.delta(event)
        if i % _YIELD_EVERY == 0:
            await asyncio.sleep(0)
    if rows:
        log.info("room %s: gift ledger rebuilt from %d stored gifts", room_id, len(rows))
    return ledger
