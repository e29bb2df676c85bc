"""The deployment files agree with the program: the Grafana dashboard asks only for metrics a
running service exports, the systemd unit's and the Compose file's commands are ones `dylive`
accepts, the Dockerfile's entry point and healthcheck fit them, and docs/fleet.md shows the
Compose file as it is and points to the unit file. (scripts/image-test builds and runs the
image.)"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from dylive.cli import build_parser
from dylive.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dylive.json"
UNIT = ROOT / "deploy" / "dylive.service"
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
WEB_RID = "615189692839"


def parses(argv: list[str]) -> None:
    """``dylive ARGV`` is a command line the program accepts (argparse exits 2 otherwise)."""
    args, extra = build_parser().parse_known_args(argv)
    assert not extra, (argv, extra)
    assert getattr(args, "func", None) is not None, argv


# --- Grafana ----------------------------------------------------------------------------------


def exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    found += [v["definition"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return found


@pytest.fixture(scope="module")
def metrics_text(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """/metrics of a real `dylive serve` collecting a simulator room and answering requests."""
    tmp = tmp_path_factory.mktemp("metrics")
    dylive = [sys.executable, "-m", "dylive"]
    procs: list[subprocess.Popen[str]] = []
    readers: list[threading.Thread] = []

    def start(*args: str, announce: str) -> str:
        proc = subprocess.Popen(
            [*dylive, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        procs.append(proc)
        found: list[str] = []

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if announce in line and not found:
                    found.append(line.split(announce, 1)[1].split()[0])

        readers.append(threading.Thread(target=read, daemon=True))
        readers[-1].start()
        deadline = time.monotonic() + 60
        while not found:
            assert proc.poll() is None and time.monotonic() < deadline, proc.args
            time.sleep(0.05)
        return found[0]

    try:
        sim = start("--log-level", "info", "sim", "--port", "0", "--rate", "40",
                    announce="dylive sim listening on ")  # fmt: skip
        db = str(tmp / "m.sqlite3")
        token = subprocess.run(
            [*dylive, "token", "create", "--db", db, "--name", "m"],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout.strip()  # fmt: skip
        base = start("--log-level", "warning", "serve", "--db", db, "--port", "0",
                     "--upstream", sim, "--room", WEB_RID, announce="listening on ")  # fmt: skip
        chat = f"{base}/douyin/liveroom/chat?token={token}&room_id={WEB_RID}"
        deadline = time.monotonic() + 60
        while not httpx.get(chat, timeout=10).json()["data"]["messages"]:
            assert time.monotonic() < deadline, "no message stored"
            time.sleep(0.2)
        httpx.get(f"{base}/douyin/liveroom/chat?token=nope&room_id={WEB_RID}", timeout=10)
        feed = base.replace("http://", "ws://") + f"/api/rooms/{WEB_RID}/ws?token={token}"
        with connect(feed, open_timeout=30) as ws:  # a feed client: the per-room gauge has a sample
            ws.recv(timeout=30)
            yield httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        for thread in readers:
            thread.join(timeout=10)
        for proc in procs:
            assert proc.stdout is not None
            proc.stdout.close()


def exported(text: str) -> tuple[set[str], set[str]]:
    """The series names /metrics can hold (declared families with their suffixes, and the
    samples present) and the label names of its samples."""
    names, labels = set(), set()
    for kind_line in re.findall(r"^# TYPE (\S+) (\w+)$", text, re.M):
        name, kind = kind_line
        base = name.removesuffix("_total")
        names.add(name)
        if kind == "counter":
            names |= {base + "_total"}
        elif kind == "histogram":
            names |= {f"{base}_{s}" for s in ("bucket", "sum", "count")}
    for name, body in re.findall(r"^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? ", text, re.M):
        names.add(name)
        labels |= set(re.findall(r"(\w+)=", body))
    return names, labels


def test_the_dashboard_asks_only_for_exported_metrics(metrics_text: str) -> None:
    names, labels = exported(metrics_text)
    assert "dylive_messages_stored_total" in names and "endpoint" in labels
    used_metrics: set[str] = set()
    for expr in exprs():
        used = set(re.findall(r"\bdylive_\w+", expr))
        assert used, expr
        used_metrics |= used
        missing = used - names
        assert not missing, f"{expr}: /metrics has no {sorted(missing)}"
        grouped = {
            label.strip()
            for group in re.findall(r"\bby \(([^)]*)\)", expr)
            for label in group.split(",")
        }
        matched = set(re.findall(r"(\w+)\s*[!=]~?\s*\"", expr))
        unknown = (grouped | matched) - labels - {"instance", "le"}  # Prometheus's, the histogram's
        assert not unknown, f"{expr}: no sample has the labels {sorted(unknown)}"
    # every dylive family is on the dashboard
    families = {n for n in re.findall(r"^# TYPE (dylive_\w+) ", metrics_text, re.M)}
    families = {f for f in families if not f.endswith("_created")}
    shown = {
        m.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count") for m in used_metrics
    }
    assert families <= shown, f"not on the dashboard: {sorted(families - shown)}"


def test_the_dashboard_imports_with_a_datasource_input() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24, panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"


# --- systemd ----------------------------------------------------------------------------------


def test_the_systemd_unit_runs_a_command_dylive_accepts() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(UNIT.read_text(encoding="utf-8"))
    service = unit["Service"]
    exec_start = shlex.split(service["ExecStart"].replace("%H", "host1"))
    assert exec_start[0].endswith("/bin/dylive")
    parses(exec_start[1:])
    assert exec_start[1] == "serve"
    assert service["KillSignal"] == "SIGTERM" and int(service["TimeoutStopSec"]) >= 20
    assert service["User"] != "root" and unit["Install"]["WantedBy"] == "multi-user.target"
    env_names = set(re.findall(r"^Environment=(DYLIVE_\w+)=", UNIT.read_text("utf-8"), re.M))
    known = {setting.env for setting in SETTINGS.values()}
    assert env_names and env_names <= known, env_names - known


def test_the_fleet_doc_points_to_the_unit_file() -> None:
    text = (ROOT / "docs" / "fleet.md").read_text(encoding="utf-8")
    assert "](../deploy/dylive.service)" in text
    assert "[Service]" not in text  # no second copy to drift from the file


# --- Dockerfile and Compose -------------------------------------------------------------------


def dockerfile_instruction(name: str) -> list[str]:
    """The exec-form argument of the Dockerfile's (last) ENTRYPOINT / CMD."""
    found = re.findall(rf"^{name} (\[.*\])$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert found, name
    value: list[str] = json.loads(found[-1])
    return value


def test_the_image_runs_dylive_serve_by_default_with_a_healthcheck_on_healthz() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert dockerfile_instruction("ENTRYPOINT") == ["dylive"]
    assert dockerfile_instruction("CMD") == ["serve"]
    assert re.search(r"^ARG BASE=python:3\.\d+-slim", text, re.M)
    assert re.search(r"^FROM \$\{BASE\} AS build$", text, re.M) and "COPY --from=build" in text
    assert re.search(r"^USER (?!root)\w+$", text, re.M)
    assert re.search(r'^VOLUME \["/data"\]$', text, re.M) and "DYLIVE_DB=/data/" in text
    health = re.search(r"^HEALTHCHECK .*\n\s+CMD (\[.*\])$", text, re.M)
    assert health is not None
    code = json.loads(health.group(1))[-1]
    assert "/healthz" in code and "DYLIVE_PORT" in code


def compose_commands() -> dict[str, list[str]]:
    commands = {}
    service = ""
    for line in COMPOSE.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^  (\w+):", line):
            service = m.group(1)
        if m := re.match(r"^    command: (\[.*\])$", line):
            commands[service] = json.loads(m.group(1))
    return commands


def test_compose_nodes_run_commands_the_image_accepts() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    nodes = {s: c for s, c in compose_commands().items() if s.startswith("node")}
    assert len(nodes) == 2, nodes
    for command in nodes.values():
        parses(command)  # the entry point is `dylive`: the command is its arguments
        assert command[0] == "serve" and "--node-id" in command
    assert "image: dylive:latest" in text and "build: ." in text
    assert "postgresql://dylive@db/dylive" in text and "nats://nats:4222" in text
    assert "stop_grace_period: 30s" in text


def test_the_fleet_doc_shows_the_compose_file_as_it_is() -> None:
    text = (ROOT / "docs" / "fleet.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M)
    assert COMPOSE.read_text(encoding="utf-8") in blocks


def test_the_image_test_runs_in_ci() -> None:
    assert "make image-test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/image-test" in (ROOT / "Makefile").read_text(encoding="utf-8")
    assert os.access(ROOT / "scripts" / "image-test", os.X_OK)
