"""Method-name lists: short snake_case names, full names, all, and the known-methods check."""

from __future__ import annotations

import pytest

from dylive.decode import DECODERS
from dylive.decode.methods import method_names


def test_short_and_full_names() -> None:
    assert method_names("Chat, room_user_seq ,WebcastGiftMessage") == {
        "WebcastChatMessage",
        "WebcastRoomUserSeqMessage",
        "WebcastGiftMessage",
    }


def test_all_and_empty_mean_every_method() -> None:
    assert method_names("all") is None
    assert method_names("chat,ALL") is None
    assert method_names(" , ") is None


def test_known_rejects_short_names_outside_the_decoder_table() -> None:
    assert method_names("nope") == {"WebcastNopeMessage"}
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        method_names("chat,nope", known=DECODERS)
    assert method_names("WebcastBrandNewMessage", known=DECODERS) == {"WebcastBrandNewMessage"}


def test_garbage_is_an_error() -> None:
    with pytest.raises(ValueError):
        method_names("DROP TABLE")
