"""The package's shape: core / io / faces, with no import cycles (an import inside a function counts:
it hides a cycle, it does not remove one) and no viewer or Qt in the core or the io layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import napari_xraysep

PACKAGE = Path(napari_xraysep.__file__).parent
NAME = "napari_xraysep"


def _modules(root: Path) -> dict[str, Path]:
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Every dotted name an import statement can load: ``from a import b`` may load ``a`` or ``a.b``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        target = ".".join([*base, *([node.module] if node.module else [])])
    else:
        target = node.module or ""
    return [target, *(f"{target}.{alias.name}" for alias in node.names)]


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module → the package's modules it imports anywhere in its text (module level or inside a
    function). A package's own submodules importing their ``__init__`` are left out: Python runs
    the ``__init__`` first, so that is no cycle."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[name] |= {
                    target for target in _imported(name, path, node)
                    if target in modules and target != name
                    and not (name.startswith(target + ".") and modules[target].name == "__init__.py")
                }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each cycle found by a depth-first walk, as the path that closes it (first module repeated)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                found.append([*path[path.index(target):], target])
            elif target not in state:
                walk(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module)
    return found


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path):
    package = tmp_path / "pkg"
    (package / "core").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "core" / "__init__.py").write_text("from .a import A\n")
    (package / "core" / "a.py").write_text("from .b import B\nA = 1\n")
    (package / "core" / "b.py").write_text("def f():\n    from . import c\nB = 2\n")
    (package / "core" / "c.py").write_text("from ..core.a import A\n")
    (package / "face.py").write_text("import pkg.core\n")
    graph = import_graph(package)
    assert graph["pkg.core.a"] == {"pkg.core.b"} and graph["pkg.face"] == {"pkg.core"}
    assert graph["pkg.core.b"] == {"pkg.core.c"}  # `from . import c` in a package module, inside a function
    assert cycles(graph) == [["pkg.core.a", "pkg.core.b", "pkg.core.c", "pkg.core.a"]]
    (package / "core" / "b.py").write_text("B = 2\n")
    assert cycles(import_graph(package)) == []


def test_the_package_has_no_import_cycles():
    graph = import_graph(PACKAGE)
    assert len(graph) > 40 and graph[f"{NAME}.cli"]  # it read the package
    assert cycles(graph) == []


@pytest.mark.parametrize("layer", ["core", "io"])
def test_the_core_and_io_never_reach_the_viewer_or_the_faces(layer):
    faces = (f"{NAME}.widgets", f"{NAME}._widget", f"{NAME}._align_widget", f"{NAME}.cli", f"{NAME}.demo")
    for module, path in _modules(PACKAGE / layer).items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            target for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
            for target in _imported(f"{NAME}.{module}", path, node)
        }
        assert not {name for name in imported if name.split(".")[0] in ("napari", "qtpy", "magicgui", "PyQt6", "PyQt5")}, module
        assert not {name for name in imported if name.startswith(faces)}, module
