"""A command-line install (``pip install napari-xraysep``, without the ``[napari]`` extra) must work:
the ``xraysep`` command and the library may not import napari or Qt."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None

GUI_PACKAGES = ("napari", "magicgui", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "vispy", "npe2")


def _without_gui(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter in which importing any GUI package fails, as it would
    where only the core dependencies are installed."""
    blocker = textwrap.dedent(
        f"""
        import importlib.abc, sys

        class NoGui(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {GUI_PACKAGES!r}:
                    raise ImportError(f"{{name}} is not installed (a command-line install)")
                return None

        sys.meta_path.insert(0, NoGui())
        """
    )
    return subprocess.run([sys.executable, "-c", blocker + code], capture_output=True, text=True, timeout=300, check=False)


def test_the_cli_imports_and_answers_help_without_napari_or_qt():
    run = _without_gui("import napari_xraysep.cli\nfrom napari_xraysep.cli import main\nmain(['--help'])")
    assert run.returncode == 0, run.stderr
    assert "usage: xraysep" in run.stdout and "align" in run.stdout
    run = _without_gui("from napari_xraysep.cli import main\nmain(['align', '--help'])")
    assert run.returncode == 0 and "--max-pair-error" in run.stdout, run.stderr


def test_xraysep_help_stays_light_and_the_cli_runs_as_a_module():
    """``--help`` loads no science (the commands are imported once one runs); ``python -m
    napari_xraysep.cli`` is the ``xraysep`` command too (the GPU check and the speed benchmark use it)."""
    run = _without_gui(
        "import sys\nfrom napari_xraysep.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('heavy:', sorted(set(sys.modules) & {'torch', 'numpy', 'napari_xraysep.core'}))"
    )
    assert run.returncode == 0 and "heavy: []" in run.stdout, run.stdout + run.stderr
    module = subprocess.run([sys.executable, "-m", "napari_xraysep.cli", "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert module.returncode == 0 and module.stdout.startswith("napari-xraysep "), module.stderr


def test_the_library_imports_without_napari_or_qt():
    run = _without_gui(
        "import napari_xraysep, napari_xraysep.core.registration, napari_xraysep.datasets.evaluation, napari_xraysep.io, "
        "napari_xraysep.datasets.synthetic, napari_xraysep.pipeline, napari_xraysep.cli.commands, "
        "napari_xraysep.cli.align, napari_xraysep.cli.weave"
    )
    assert run.returncode == 0, run.stderr


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_the_core_dependencies_are_declared_with_lower_bounds():
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = {requirement.split(">=")[0]: requirement for requirement in project["dependencies"]}
    for name in ("numpy", "scipy", "scikit-image", "tqdm", "tifffile", "torch"):
        assert name in core and ">=" in core[name], f"{name} must be a core dependency with a lower bound"
    assert not any(name.startswith(GUI_PACKAGES) for name in core)  # napari and Qt only with the [napari] extra
