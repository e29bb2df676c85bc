"""Import floors: every module under src/dylive imports only downward.

Each package sits on a floor. A module may import its own package, any package on a lower floor,
and a package on its own floor only when the pair is listed in ``ALLOWED``; a higher floor is
never allowed. Command entry points (``dylive.cli``, ``dylive.__init__``, ``dylive.__main__`` and
every package's ``cli`` module) are the top and may import anything. Imports under
``if TYPE_CHECKING:`` are exempt (they never run). Function-level imports count like any other.

Every package of src/dylive must be in ``FLOORS``: a new package fails here until it is given a
floor, so the table stays true. A package of the table with no files yet is tolerated.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT_PACKAGE = "dylive"

#: Low to high. Packages on the same floor are peers that must not import each other.
FLOORS: dict[str, int] = {
    "dylive.errors": 0,
    "dylive.numbers": 0,
    "dylive.settings": 0,
    "dylive.listen": 0,
    "dylive.proto": 0,
    "dylive.wire": 1,
    "dylive.decode": 2,
    "dylive.source": 3,
    "dylive.store": 3,
    "dylive.sim": 3,
    "dylive.identity": 4,
    "dylive.analytics": 4,
    "dylive.collect": 5,
    "dylive.deliver": 5,
    "dylive.fleet": 6,
    "dylive.app": 7,
    "dylive.serve": 8,
}

#: Entry points that may import anything (besides every package's ``cli`` module).
TOP = {"dylive", "dylive.cli", "dylive.__main__"}

#: Same-floor imports that are allowed, as (importing package, imported package), with a reason.
ALLOWED: dict[tuple[str, str], str] = {
    ("dylive.settings", "dylive.errors"): "errors is the root of floor 0 (bad setting → error)",
    ("dylive.listen", "dylive.errors"): "errors is the root of floor 0 (bad address → error)",
}

#: Names of the root package that any module may import: constants of dylive/__init__.py, whose
#: other exports are lazy (nothing is imported when they are read).
ROOT_CONSTANTS = {"__version__"}


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    module: str
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.imported} ({self.why})"


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def is_top(module: str) -> bool:
    return module in TOP or module.rsplit(".", 1)[-1] == "cli"


def package_of(module: str) -> str:
    """``dylive.x.y.z`` → ``dylive.x``; ``dylive`` itself stays ``dylive``."""
    return ".".join(module.split(".")[:2])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(
    tree: ast.Module, module: str, *, package: bool, known: set[str]
) -> list[tuple[int, str]]:
    """Every ``dylive.*`` module imported at run time, as (line, absolute module name).

    ``from dylive import x`` names the module ``dylive.x`` when ``x`` is one (``known``), else the
    root package itself. Relative imports are resolved against ``module``.
    """
    found: set[tuple[int, str]] = set()

    def add(line: int, name: str) -> None:
        if name == ROOT_PACKAGE or name.startswith(ROOT_PACKAGE + "."):
            found.add((line, name))

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in known:
                    add(node.lineno, sub)
                elif not (target == ROOT_PACKAGE and alias.name in ROOT_CONSTANTS):
                    add(node.lineno, target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return sorted(found)


def check(
    path: str, module: str, imported: list[tuple[int, str]], floors: dict[str, int]
) -> list[Violation]:
    """The floor rules for one module's imports (see the module docstring)."""
    if is_top(module):
        return []
    own = package_of(module)
    if own not in floors:
        return [Violation(path, 1, module, own, "package not in FLOORS: give it a floor")]
    out = []
    for line, name in imported:
        target = package_of(name)
        if target == own:
            continue
        if is_top(name):
            out.append(Violation(path, line, module, name, "a command entry point"))
        elif target not in floors:
            out.append(Violation(path, line, module, name, "package not in FLOORS"))
        elif floors[target] > floors[own]:
            why = f"floor {floors[target]} above floor {floors[own]}"
            out.append(Violation(path, line, module, name, why))
        elif floors[target] == floors[own] and (own, target) not in ALLOWED:
            out.append(Violation(path, line, module, name, f"a peer on floor {floors[own]}"))
    return out


def source_files(src: Path = SRC) -> list[Path]:
    return sorted(p for p in (src / ROOT_PACKAGE).rglob("*.py") if "__pycache__" not in p.parts)


def violations(src: Path = SRC, floors: dict[str, int] = FLOORS) -> list[Violation]:
    files = source_files(src)
    known = {module_name(p, src) for p in files}
    out = []
    for path in files:
        module = module_name(path, src)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        imported = imports_of(tree, module, package=is_package(path), known=known)
        out += check(str(path.relative_to(src.parent)), module, imported, floors)
    return out


def test_every_module_imports_only_downward() -> None:
    found = violations()
    assert not found, "imports against the floors:\n" + "\n".join(map(str, found))


def test_every_package_has_a_floor() -> None:
    packages = {package_of(module_name(p)) for p in source_files()}
    assert len(packages) > 10  # the scan found the tree
    assert not packages - FLOORS.keys() - TOP


def test_allowed_pairs_are_peers_of_the_table() -> None:
    for a, b in ALLOWED:
        assert FLOORS[a] == FLOORS[b], (a, b)


# The checker itself, on a tree written for it.


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


FLOORS_OF_THE_FAKE = {"dylive.low": 0, "dylive.mid": 1, "dylive.peer": 1, "dylive.high": 2}


def test_checker_names_file_line_and_floor(tmp_path: Path) -> None:
    src = _tree(
        tmp_path,
        {
            "dylive/__init__.py": "import dylive.high\n",
            "dylive/cli.py": "from dylive.high import x\n",
            "dylive/low.py": "",
            "dylive/peer/__init__.py": "",
            "dylive/high/__init__.py": "",
            "dylive/high/cli.py": "",
            "dylive/mid/__init__.py": "from . import a\n",
            "dylive/mid/cli.py": "from dylive.high import x\nimport dylive.peer\n",
            "dylive/mid/a.py": (
                "from typing import TYPE_CHECKING\n"
                "from dylive import low\n"  # line 2: downward, fine
                "from dylive.mid import b\n"  # own package
                "from .b import c\n"  # own package, relative
                "if TYPE_CHECKING:\n"
                "    from dylive.high import T\n"  # exempt
                "else:\n"
                "    import dylive.high.thing\n"  # line 8: runs, upward
                "def f():\n"
                "    from dylive.peer import p\n"  # line 10: function level, a peer
                "    from ..high import q\n"  # line 11: relative, upward
                "    from dylive.high.cli import main\n"  # line 12: an entry point
                "    from dylive import cli\n"  # line 13: the root entry point
                "    import json, dylive.nowhere\n"  # line 14: not in the table
                "from dylive import __version__\n"  # a constant of the root: fine
                "from dylive import Room\n"  # line 16: the root package's exports are the top
            ),
            "dylive/mid/b.py": "",
        },
    )
    found = {(v.path, v.line, v.imported) for v in violations(src, FLOORS_OF_THE_FAKE)}
    a = str(Path(src.name) / "dylive/mid/a.py")
    assert found == {
        (a, 8, "dylive.high.thing"),
        (a, 10, "dylive.peer"),
        (a, 11, "dylive.high"),
        (a, 12, "dylive.high.cli"),
        (a, 13, "dylive.cli"),
        (a, 14, "dylive.nowhere"),
        (a, 16, "dylive"),
    }


def test_checker_fails_a_package_without_a_floor(tmp_path: Path) -> None:
    src = _tree(tmp_path, {"dylive/__init__.py": "", "dylive/fresh/x.py": "import os\n"})
    (found,) = violations(src, FLOORS_OF_THE_FAKE)
    assert found.module == "dylive.fresh.x" and "not in FLOORS" in found.why


def test_checker_allows_a_listed_peer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    src = _tree(
        tmp_path, {"dylive/mid/x.py": "from dylive.peer import y\n", "dylive/peer/y.py": ""}
    )
    assert len(violations(src, FLOORS_OF_THE_FAKE)) == 1
    monkeypatch.setitem(ALLOWED, ("dylive.mid", "dylive.peer"), "for the test")
    assert violations(src, FLOORS_OF_THE_FAKE) == []


def import_cycles(src: Path = SRC) -> list[list[str]]:
    """Groups of modules that import each other at run time (directly or around a circle).

    Edges are the run-time imports of :func:`imports_of` (``TYPE_CHECKING`` imports never run,
    so naming a type for the checker is no circle). A package's ``__init__`` that a submodule
    is imported through is not an edge: Python imports the parent first whatever the order.
    """
    files = source_files(src)
    names = {module_name(p, src): p for p in files}
    known = set(names)
    graph: dict[str, set[str]] = {}
    for module, path in names.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = imports_of(tree, module, package=is_package(path), known=known)
        graph[module] = {name for _line, name in found if name in known and name != module}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def strong(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return groups


def test_no_import_circles() -> None:
    assert import_cycles() == []


def test_cycle_finder_sees_a_circle_and_ignores_type_checking(tmp_path: Path) -> None:
    src = _tree(
        tmp_path,
        {
            "dylive/__init__.py": "",
            "dylive/serve/__init__.py": "",
            "dylive/serve/a.py": "from dylive.serve import b\n",
            "dylive/serve/b.py": "def f():\n    from dylive.serve.c import x\n",
            "dylive/serve/c.py": "from .a import y\n",
            "dylive/serve/d.py": (
                "from typing import TYPE_CHECKING\n"
                "from dylive.serve import a\n"
                "if TYPE_CHECKING:\n    from dylive.serve.d2 import z\n"
            ),
            "dylive/serve/d2.py": "from dylive.serve import d\n",
        },
    )
    assert import_cycles(src) == [["dylive.serve.a", "dylive.serve.b", "dylive.serve.c"]]
