"""The committed webcast_pb2.py is exactly what webcast.proto generates."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_gen_proto() -> ModuleType:
    """scripts/gen_proto.py as a module, loaded from its path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    gen_proto = load_gen_proto()
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
