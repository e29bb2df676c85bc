"""``dylive.decode(raw)`` (docs/library.md) stays callable whatever was imported before it: the
import system replaces the attribute by the package once a ``dylive.decode.*`` module loads."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import dylive
{imports}
from dylive.proto import webcast_pb2 as pb
from dylive.wire.frames import RawMessage
payload = pb.ChatMessage(content="hi").SerializeToString()
event = dylive.decode(RawMessage("WebcastChatMessage", 5, payload), room_id=9)
assert type(event).__name__ == "ChatEvent", event
assert event.content == "hi" and event.msg_id == 5 and event.room_id == 9
assert dylive.render(event)["payload"]["content"] == "hi"
print("ok")
"""


def run(imports: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(imports=imports)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_callable_after_a_submodule_import() -> None:
    assert run("from dylive.decode.decoders import DECODERS") == "ok"


def test_callable_after_the_function_was_looked_up_first() -> None:
    assert run("f = dylive.decode\nimport dylive.decode.render") == "ok"


def test_callable_on_a_fresh_import() -> None:
    assert run("") == "ok"
