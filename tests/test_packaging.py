"""`make run` installs only the runtime set; `make test` adds the dev extra; the runtime code
never imports a development-only package."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def dry_run(tmp_path: Path, target: str) -> str:
    """The commands ``make TARGET`` would run in a fresh checkout (no .venv yet)."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    done = subprocess.run(
        ["make", "-n", "-C", str(tmp_path), target],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_run_installs_the_runtime_set_only_and_test_adds_dev(tmp_path: Path) -> None:
    run = dry_run(tmp_path, "run")
    assert "pip install" in run and "-e ." in run
    assert "[dev]" not in run
    assert "dylive demo" in run
    test = dry_run(tmp_path, "test")
    assert "-e '.[dev]'" in test and "scripts/check" in test


def dev_only_packages() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    runtime = {_name(d) for d in project["dependencies"]}
    other = {_name(d) for name, deps in extras.items() if name != "dev" for d in deps}
    return {_name(d) for d in extras["dev"]} - runtime - other  # psycopg: the postgres extra


def _name(requirement: str) -> str:
    for stop in "[<>=! ;":
        requirement = requirement.split(stop, 1)[0]
    return requirement.strip().lower()


# the module a distribution is imported as, where it differs from its name
IMPORT_NAMES = {"grpcio-tools": "grpc_tools", "pytest-asyncio": "pytest_asyncio",
                "pytest-timeout": "pytest_timeout", "types-protobuf": "google-stubs"}  # fmt: skip


def test_runtime_modules_import_without_the_dev_extra() -> None:
    blocked = sorted(IMPORT_NAMES.get(p, p.replace("-", "_")) for p in dev_only_packages())
    assert "grpc_tools" in blocked and "pytest" in blocked
    # every dylive module (the PostgreSQL ones need the postgres extra, not dev)
    probe = f"""
import importlib, pkgutil, sys
blocked = {blocked!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError("dev-only package imported at run time: " + name)
sys.meta_path.insert(0, Block())
import dylive
for mod in pkgutil.walk_packages(dylive.__path__, "dylive."):
    if not mod.name.endswith("__main__"):
        importlib.import_module(mod.name)
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
