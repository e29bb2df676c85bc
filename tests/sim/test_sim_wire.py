"""Pure parts: the shared-frame encoder, continuation tokens, scenario determinism, faults."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from dylive.sim.faults import Faults
from dylive.sim.positions import cursor_msg_id, ext_position, fetch_ext, make_cursor, push_ext
from dylive.sim.scenario import Script, default_rooms
from dylive.sim.wire import EMPTY_GZ, frame_bytes
from dylive.wire.frames import encode_frame, parse_frame


@pytest.mark.parametrize("log_id", [1, 300, 2**63 + 12345])
@pytest.mark.parametrize("seq_id", [0, 1, 703])
def test_frame_bytes_equal_encode_frame(log_id: int, seq_id: int) -> None:
    raw = "弹幕".encode() * 40
    headers = {
        "im-cursor": "1_2_1_1",
        "im-internal_ext": "internal_src:pushserver|seq:3",
        "im-now": "9",
    }
    fast = frame_bytes(
        gzip.compress(raw, compresslevel=6, mtime=0),
        log_id=log_id,
        seq_id=seq_id,
        headers=list(headers.items()),
    )
    assert fast == encode_frame(raw, log_id=log_id, seq_id=seq_id, headers=headers)
    assert parse_frame(fast).payload == raw


def test_hb_and_close_frames() -> None:
    hb = frame_bytes(EMPTY_GZ, log_id=0, headers=[("server_time", "5")], payload_type="hb")
    assert hb == encode_frame(b"", log_id=0, headers={"server_time": "5"}, payload_type="hb")
    assert (
        parse_frame(frame_bytes(EMPTY_GZ, log_id=7, payload_type="close")).payload_type == "close"
    )


def test_positions_round_trip_and_foreign_tokens() -> None:
    cursor = make_cursor(1611801897133, 6922636435245915553)
    assert cursor == "1611801897133_6922636435245915553_1_1"
    assert cursor_msg_id(cursor) == 6922636435245915553
    assert ext_position(fetch_ext(1, 2, 42, cursor)) == 42
    assert ext_position(push_ext(6922580638159719176, "7300", 1, 17, 5)) == 17
    # tokens the simulator did not issue carry no position
    assert ext_position("internal_src:dim|wss_push_room_id:1|seq:1|wss_info:0-1-0-0") is None
    assert ext_position("fetch_time:1|start_time:1|seq:1|next_cursor:x|door:6-n3") is None
    assert cursor_msg_id("d-1_u-1_fh-7041032912153662503_t-1_r-1") is None


def test_scenario_is_deterministic_per_seed() -> None:
    spec = default_rooms()[0]

    def methods(seed: int) -> list[str]:
        script = Script(spec, seed)
        out = []
        for i in range(200):
            out += [d.method for d in script.tick(1_700_000_000_000 + i * 250, 0.25, 8.0)]
        return out

    assert methods(5) == methods(5)
    assert methods(5) != methods(6)
    assert len(methods(5)) > 300


def test_fault_validation() -> None:
    f = Faults().merged({"corrupt": 0.5, "fake_alive": True})
    assert f.corrupt == 0.5 and f.fake_alive
    assert Faults().merged({"reset": True}) == Faults()
    for bad in (
        {"corrupt": 1.5},
        {"fake_alive": 1},
        {"slow_ms": -1},
        {"x": 1},
        {"drop_every": "1"},
    ):
        with pytest.raises(ValueError):
            Faults().merged(bad)


def test_cli_runs_on_the_service_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """``dylive sim`` runs on the service's runtime (settings loop and gc: uvloop when
    installed, the tuned collector), not on a bare ``asyncio.run``."""
    import argparse

    from dylive.sim import cli as sim_cli

    ran: list[Any] = []

    def fake_run(main: Any, *, loop: str | None = None) -> None:
        ran.append(main)
        main.close()

    monkeypatch.setattr(sim_cli.runtime, "run", fake_run)
    parser = argparse.ArgumentParser()
    sim_cli.register(parser.add_subparsers())
    assert sim_cli.run(parser.parse_args(["sim", "--port", "0"])) == 0
    assert len(ran) == 1
