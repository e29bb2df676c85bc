"""`dylive decode` end to end: captures, frames, broken input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from dylive.cli import main
from dylive.proto import webcast_pb2 as pb
from dylive.wire.frames import RawMessage, encode_frame, encode_response

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "captures"


def test_decode_hex_capture(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["decode", "--hex", str(FIXTURES / "imfetch-2021-12.hex")]) == 0
    lines = capsysbinary.readouterr().out.splitlines()
    assert len(lines) == 21
    golden = (FIXTURES / "imfetch-2021-12.jsonl").read_bytes().splitlines()
    assert [orjson.loads(x) for x in lines] == [orjson.loads(x) for x in golden]


def test_decode_raw_push_frame(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    chat = pb.ChatMessage(content="你好", user=pb.User(id=1, nickname="a"))
    chat.common.room_id = 5
    ctl = pb.ControlMessage(action=3)
    body = encode_response(
        [
            RawMessage("WebcastChatMessage", 11, chat.SerializeToString()),
            RawMessage("WebcastControlMessage", 12, ctl.SerializeToString()),
        ]
    )
    path = tmp_path / "frame.bin"
    path.write_bytes(encode_frame(body, log_id=1))
    assert main(["decode", str(path)]) == 0
    lines = [orjson.loads(x) for x in capsysbinary.readouterr().out.splitlines()]
    assert [x["method"] for x in lines] == ["WebcastChatMessage", "WebcastControlMessage"]
    assert lines[0]["payload"]["content"] == "你好"


@pytest.mark.parametrize(
    ("content", "flag", "needle"),
    [
        (b"zz not hex", "--hex", "not valid hex"),
        (b"0a10", "--hex", "bad Response"),
        (b"\x0a\x10\x0a", None, "bad Response"),
    ],
)
def test_broken_input_is_a_clear_error(
    tmp_path: Path, content: bytes, flag: str | None, needle: str
) -> None:
    path = tmp_path / "bad"
    path.write_bytes(content)
    cmd = [sys.executable, "-m", "dylive", "decode", str(path)] + ([flag] if flag else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "/nonexistent/capture.bin"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_hex_text_without_hex_flag_gets_a_hint(tmp_path: Path) -> None:
    capture = Path(__file__).resolve().parents[1] / "fixtures" / "captures" / "imfetch-2021-09.hex"
    done = subprocess.run(
        [sys.executable, "-m", "dylive", "decode", str(capture)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().endswith(f"({capture} looks like hex text: add --hex)")
    raw = tmp_path / "junk.bin"
    raw.write_bytes(bytes(range(256)))  # broken binary: no hint
    done = subprocess.run(
        [sys.executable, "-m", "dylive", "decode", str(raw)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "--hex" not in done.stderr
