"""Generate src/dylive/proto/webcast_pb2.py from webcast.proto (needs grpcio-tools).

Usage: python scripts/gen_proto.py [--check]
--check regenerates into a temporary folder and exits 1 when the committed module differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent.parent / "src" / "dylive" / "proto"
HEADER = "# DO NOT EDIT: generated from webcast.proto by scripts/gen_proto.py\n"


def generate(out_dir: Path) -> Path:
    from grpc_tools import protoc  # type: ignore[import-untyped]

    rc = protoc.main(
        [
            "protoc",
            f"-I{PROTO_DIR}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            str(PROTO_DIR / "webcast.proto"),
        ]
    )
    if rc != 0:
        raise SystemExit(f"protoc failed with exit code {rc}")
    target = out_dir / "webcast_pb2.py"
    body = target.read_text(encoding="utf-8")
    # The protoc version comment and runtime check differ between grpcio-tools releases; keep
    # everything, prefixed with our own marker.
    target.write_text(HEADER + body, encoding="utf-8")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed module drifted")
    args = parser.parse_args()
    if not args.check:
        generate(PROTO_DIR)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        current = PROTO_DIR / "webcast_pb2.py"
        if not current.exists() or _descriptor(fresh) != _descriptor(current):
            print(
                "webcast_pb2.py drifted from webcast.proto: run scripts/gen_proto.py",
                file=sys.stderr,
            )
            return 1
    return 0


def _descriptor(path: Path) -> bytes:
    """The serialized FileDescriptorProto embedded in a generated module."""
    text = path.read_text(encoding="utf-8")
    start = text.index("AddSerializedFile(b'") + len("AddSerializedFile(")
    end = text.index("')", start) + 1
    value = eval(text[start:end])  # a bytes literal written by protoc
    assert isinstance(value, bytes)
    return value


if __name__ == "__main__":
    raise SystemExit(main())
