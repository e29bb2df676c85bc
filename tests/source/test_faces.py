"""The public faces of dylive.source and dylive.wire: every name of ``__all__`` resolves (lazily)
to the object of its home module, the names mypy sees (``if TYPE_CHECKING:``) are the same, and
importing the package imports none of its modules."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def typed_names(package: str) -> set[str]:
    """The names imported under ``if TYPE_CHECKING:`` in the package's __init__.py."""
    path = SRC.joinpath(*package.split("."), "__init__.py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for inner in node.body:
                assert isinstance(inner, ast.ImportFrom)
                names |= {alias.asname or alias.name for alias in inner.names}
    return names


@pytest.mark.parametrize("package", ["dylive.source", "dylive.wire"])
def test_every_public_name_resolves_to_its_home(package: str) -> None:
    face = importlib.import_module(package)
    exports: dict[str, str] = face._EXPORTS
    assert sorted(face.__all__) == sorted(exports) == sorted(typed_names(package))
    for name, home in exports.items():
        assert home.startswith(package + ".")
        assert getattr(face, name) is getattr(importlib.import_module(home), name), name


@pytest.mark.parametrize("package", ["dylive.source", "dylive.wire"])
def test_an_unknown_name_is_an_attribute_error(package: str) -> None:
    face = importlib.import_module(package)
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = face.no_such_name


def test_importing_a_face_imports_none_of_its_modules() -> None:
    code = (
        "import sys, dylive.source, dylive.wire\n"
        "print(sorted(m for m in sys.modules if m.startswith('dylive.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "['dylive.source', 'dylive.wire']"
