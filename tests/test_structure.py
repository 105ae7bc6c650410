"""The package's shape: core ← io ← pipeline ← faces (plugin, cli), with no import cycles (an import
inside a function counts: it hides a cycle, it does not remove one), no viewer or Qt outside the napari
face, no file read or written in the core, and nothing else at the top level."""

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


# What the top level of the package may hold: its public face and the one way through a run.
TOP_LEVEL = {"__init__.py", "_version.py", "pipeline.py", "core", "io", "plugin", "cli", "datasets", "weights"}
# What each part may import from the package (beside its own modules and _version): the core nothing
# else, io the core, the pipeline both, the faces those and the synthetic datasets (the samples, the demo).
ALLOWED = {
    "core": (),
    "io": ("core",),
    "pipeline": ("core", "io"),
    "datasets": (),
    "plugin": ("core", "io", "pipeline", "datasets"),
    "cli": ("core", "io", "pipeline", "datasets"),
}
GUI = ("napari", "qtpy", "magicgui", "PyQt6", "PyQt5", "superqt", "vispy")


def _imports_of(part: str) -> dict[str, set[str]]:
    """Module of ``part`` (a subpackage or a top-level module) → every dotted name it imports."""
    root = PACKAGE / part if (PACKAGE / part).is_dir() else PACKAGE / f"{part}.py"
    modules = _modules(root) if root.is_dir() else {part: root}
    found = {}
    for module, path in modules.items():
        name = f"{NAME}.{module}"
        found[module] = {
            target for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for target in _imported(name, path, node)
        }
    return found


def test_the_top_level_holds_only_the_public_face_and_the_pipeline():
    entries = {path.name for path in PACKAGE.iterdir() if path.name not in ("__pycache__", "napari.yaml")}
    assert entries == TOP_LEVEL
    assert (PACKAGE / "napari.yaml").is_file()  # the manifest, put inside the wheel by the build


def forbidden(part: str, imported: set[str]) -> set[str]:
    """The names among ``imported`` (by a module of ``part``) that ``part`` may not import: another
    part of the package than ALLOWED says, the package's own lazy public names (for users, not for
    its parts), the viewer or Qt outside the napari face."""
    allowed = tuple(f"{NAME}.{name}" for name in (part, "_version", *ALLOWED[part]))
    ours = {name for name in imported if name.split(".")[0] == NAME}
    gui = {name for name in imported if name.split(".")[0] in GUI} if part != "plugin" else set()
    return {name for name in ours if name == NAME or not name.startswith(allowed)} | gui


def test_the_layer_rule_catches_a_face_importing_another_face_and_the_core_a_file_layer():
    assert forbidden("plugin", {f"{NAME}.cli.commands", f"{NAME}.core.data", "napari.layers"}) == {f"{NAME}.cli.commands"}
    assert forbidden("cli", {f"{NAME}.plugin.layers", "qtpy.QtWidgets", f"{NAME}.pipeline"}) == {f"{NAME}.plugin.layers", "qtpy.QtWidgets"}
    assert forbidden("core", {f"{NAME}.io.files", f"{NAME}.core.data", f"{NAME}._version"}) == {f"{NAME}.io.files"}


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_part_imports_only_the_parts_below_it(part):
    """core ← io ← pipeline ← faces: no face imports another face, the core and io never reach a face,
    and only the napari face reaches the viewer or Qt."""
    for module, imported in _imports_of(part).items():
        assert forbidden(part, imported) == set(), module


# Calls and imports that read or write files. The core computes on arrays and tensors it is handed;
# every file goes through napari_xraysep.io.
FILE_MODULES = {"tifffile", "PIL", "pydicom", "imagecodecs", "zarr", "shutil", "tempfile", "pickle", "zipfile"}
FILE_CALLS = {
    "open", "save", "load", "savez", "savez_compressed", "savetxt", "loadtxt", "memmap", "imread", "imwrite",
    "write_text", "write_bytes", "read_text", "read_bytes", "mkdir", "unlink", "rmdir", "touch", "rename",
    "replace", "remove", "makedirs", "rmtree",
}
def file_io(source: str) -> list[str]:
    """The file reads and writes in ``source``: imports of file libraries, calls like ``open(…)``,
    ``np.save(…)``, ``torch.load(…)``, ``path.write_text(…)``. ``str.replace`` is told apart by
    needing ``os.`` before it."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [name for name in names if name.split(".")[0] in FILE_MODULES]
        elif isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Name) and function.id == "open":
                found.append("open")
            elif isinstance(function, ast.Attribute) and function.attr in FILE_CALLS:
                owner = function.value.id if isinstance(function.value, ast.Name) else ""
                if function.attr in ("replace", "remove", "rename") and owner != "os":
                    continue  # str.replace, list.remove, dataclasses' replace …
                if function.attr in ("save", "load", "memmap") and owner not in ("np", "numpy", "torch", "tifffile"):
                    continue
                found.append(f"{owner}.{function.attr}" if owner else function.attr)
    return found


def test_the_file_finder_finds_reads_and_writes():
    source = (
        "import tifffile\nfrom pathlib import Path\nimport torch\n"
        "def f(p, a):\n    open(p)\n    torch.save(a, p)\n    Path(p).write_text('x')\n    np.save(p, a)\n"
        "    os.replace(p, p)\n    return 'a'.replace('a', 'b'), dataclasses.replace(a)\n"
    )
    assert file_io(source) == ["tifffile", "open", "torch.save", "write_text", "np.save", "os.replace"]


@pytest.mark.parametrize("path", sorted((PACKAGE / "core").rglob("*.py")), ids=lambda path: path.name)
def test_the_core_reads_and_writes_no_files(path):
    assert file_io(path.read_text(encoding="utf-8")) == [], path.name
