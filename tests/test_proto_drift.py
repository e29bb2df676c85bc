"""The committed webcast_pb2.py is exactly what webcast.proto generates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_generated_module_matches_the_proto() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_generated_module_is_marked_do_not_edit() -> None:
    head = (ROOT / "src" / "dylive" / "proto" / "webcast_pb2.py").read_text().splitlines()[0]
    assert "DO NOT EDIT" in head


def test_drift_is_detected(tmp_path: Path) -> None:
    """Changing a field number in a copy of the .proto changes the embedded descriptor."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_proto
    finally:
        sys.path.pop(0)
    proto = (ROOT / "src" / "dylive" / "proto" / "webcast.proto").read_text()
    committed = gen_proto._descriptor(ROOT / "src" / "dylive" / "proto" / "webcast_pb2.py")
    (tmp_path / "webcast.proto").write_text(
        proto.replace("string content = 3;", "string content = 33;", 1)
    )
    out = tmp_path / "out"
    out.mkdir()
    original = gen_proto.PROTO_DIR
    gen_proto.PROTO_DIR = tmp_path
    try:
        fresh = gen_proto.generate(out)
    finally:
        gen_proto.PROTO_DIR = original
    assert gen_proto._descriptor(fresh) != committed
