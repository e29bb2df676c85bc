"""``dylive decode FILE``: captured bytes → one rendered JSON object per message, one per line."""

from __future__ import annotations

import argparse
import binascii
import os
import sys
from pathlib import Path
from typing import Any

import orjson
from google.protobuf.message import DecodeError

from dylive.decode.decoders import decode
from dylive.decode.events import GiftEvent
from dylive.decode.gifts import GiftLedger
from dylive.decode.render import render
from dylive.errors import ProtocolError
from dylive.proto import webcast_pb2 as pb
from dylive.wire.frames import Batch, parse_frame, parse_response

FRAME_TYPES = {"msg", "hb", "ack", "close"}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "decode",
        help="decode a captured PushFrame or im/fetch Response to JSON lines",
        description="Read captured bytes (a PushFrame or a bare im/fetch Response, auto-detected) "
        "and print one rendered JSON object per message on stdout.",
    )
    p.add_argument("file", help="path of the capture ('-' for stdin)")
    p.add_argument("--hex", action="store_true", help="the file is hex text, not raw bytes")
    p.add_argument("--room-id", type=int, default=0, help="room id when the payload has none")
    p.set_defaults(func=run)


def read_input(path: str, as_hex: bool) -> bytes:
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    if as_hex:
        text = b"".join(data.split())
        data = binascii.unhexlify(text)
    return data


def looks_like_frame(data: bytes) -> bool:
    """A PushFrame parses with a known payload_type; a bare Response does not."""
    frame = pb.PushFrame()
    try:
        frame.ParseFromString(data)
    except DecodeError:
        return False
    return frame.payload_type in FRAME_TYPES


def parse_capture(data: bytes) -> Batch:
    """Auto-detect a PushFrame or a bare Response and return its Batch."""
    if looks_like_frame(data):
        frame = parse_frame(data)
        if frame.payload_type != "msg":
            return Batch(messages=())
        return parse_response(frame.payload)
    return parse_response(data)


_HEX_TEXT = frozenset(b"0123456789abcdefABCDEF \t\r\n")


def _hint(args: argparse.Namespace) -> str:
    """A hint when the bytes that failed look like hex text read without ``--hex``."""
    if args.hex or args.file == "-":
        return ""
    try:
        head = Path(args.file).read_bytes()[:4096]
    except OSError:
        return ""
    if head.strip() and set(head) <= _HEX_TEXT:
        return f" ({args.file} looks like hex text: add --hex)"
    return ""


def run(args: argparse.Namespace) -> int:
    try:
        batch = parse_capture(read_input(args.file, args.hex))
    except OSError as exc:
        print(f"dylive decode: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except (binascii.Error, ValueError) as exc:
        print(f"dylive decode: {args.file} is not valid hex: {exc}", file=sys.stderr)
        return 1
    except ProtocolError as exc:
        print(f"dylive decode: {exc}{_hint(args)}", file=sys.stderr)
        return 1
    ledger = GiftLedger()
    out = sys.stdout.buffer
    try:
        for raw in batch.messages:
            event = decode(raw, room_id=args.room_id)
            if isinstance(event, GiftEvent):
                event = ledger.apply(event)
            out.write(orjson.dumps(render(event)) + b"\n")
        out.flush()
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as cat does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail
        os.close(devnull)
    return 0
