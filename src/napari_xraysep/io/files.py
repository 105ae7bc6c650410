"""Atomic writes: a file, and a whole result set, appear whole or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from ..core.errors import InputError, OutputError
from ..core.result import OPTIONAL_LAYERS, RESULT_LAYERS
from ..core.threads import COUNT_FILES


def as_if_opened(path: str | os.PathLike[str]) -> None:
    """Give ``path`` the permissions a plain ``open()`` would have (0666 less the user's umask): a
    temporary file from :func:`tempfile.mkstemp` is private (0600), and renamed into place it would stay so."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None]) -> Path:
    """Call ``write(temporary_path)`` in ``path``'s folder, then rename it to ``path``.

    The file gets the permissions a plain ``open()`` would give it (the temporary file is private),
    and the temporary is removed if writing fails — a full disk leaves the old file, not half a new one.
    Operating-system failures (disk full, no permission, folder gone) raise :class:`OutputError`.
    """
    path = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise OutputError(f"Cannot write {path}: {error.strerror or error}.") from error
    os.close(handle)
    try:
        write(temporary)
        as_if_opened(temporary)
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise OutputError(f"Could not write {path}: {error.strerror or error}; nothing was left half-written.") from error
        raise
    return path


# Temporary folders beside a results folder: the new set while it is written, the old one while the
# new one takes its place. Hidden, and outside the results folder, so debris of a killed run never
# makes a rerun find the folder "not empty".
STAGING_TAG, ASIDE_TAG = "xraysep-new", "xraysep-old"
# In a staging folder: the folder it is to become instead of ``out`` (set_aside).
SET_ASIDE = ".xraysep-set-aside"
# A file the new set may keep where its write failed: the model (hours of training), but only where
# no earlier model would be replaced by it.
SALVAGED = ("model.pt",)
# A whole painting's overview levels, in a folder of the result set.
PYRAMID_FOLDER = "pyramid"
# What a run writes into a result set besides its model (and a thread count of its weave layer). An
# earlier set's files of these names that the new set does not write again are another run's results:
# they leave with the old set, never carried into the new one, where they would pass for this run's (an
# exposure layer of films no longer taken out, threads counted on the old weave layer).
EARLIER_RESULTS = frozenset(
    {*(f"{name}.tif" for name in (*RESULT_LAYERS, *OPTIONAL_LAYERS)), "run.json", PYRAMID_FOLDER, *COUNT_FILES}
)
# An earlier model the new set keeps (it was only applied) keeps its run's record beside it, under this name.
KEPT_MODEL_RECORD = "model.run.json"


def check_writable(path: str | os.PathLike[str], option: str) -> None:
    """InputError (before any work) unless a file or folder can be made at ``path``: the nearest folder
    above it that exists must take new files (nothing is made here: a refused run leaves the disk as
    it was; the missing folders are made when the results are written). ``option`` names it ("--out")."""
    existing = next(folder for folder in Path(os.path.abspath(path)).parents if folder.exists())
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".xraysep-write-test-", dir=existing))
    except OSError as error:
        raise InputError(f"Cannot write to {option} {path}: {error.strerror or error}.") from error


def same_file(first: str | os.PathLike[str], second: str | os.PathLike[str]) -> bool:
    """Whether two paths name one file or folder (False where either does not exist: its reader says so)."""
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


@contextlib.contextmanager
def result_set(out: str | os.PathLike[str]) -> Iterator[Path]:
    """A new, empty folder to write a whole result set into; when the block ends normally it replaces
    the results in ``out`` as one set, otherwise ``out`` is left exactly as it was.

    The set is written to a hidden folder beside ``out`` (same parent, so same disk), then swapped in:
    ``out`` is renamed aside, the new folder renamed to ``out``, the old one removed. Files of ``out``
    that the new set does not replace (the user's own notes, a model that was only applied) are moved
    into the new set first — but not an earlier run's results (:data:`EARLIER_RESULTS`) that the new set
    lacks, which go with the old set (a warning names them); an earlier model kept so keeps its run's
    ``run.json`` beside it as :data:`KEPT_MODEL_RECORD`. If the block raises — a full disk, an error,
    Ctrl-C, a SIGTERM that the CLI turns into an exception — the new folder is removed; only its
    ``model.pt`` is kept, moved into ``out``, if ``out`` had none (so a fresh run's checkpoint survives a
    crash, an earlier model is never replaced). ``out``'s parent is made if needed (and removed again if
    the block fails and nothing was kept in it). Operating-system failures raise :class:`OutputError`.
    """
    out = Path(os.path.abspath(out))
    if out.is_symlink():
        out = out.resolve()
    made = [folder for folder in out.parents if not folder.exists()]  # deepest first
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.{STAGING_TAG}-", dir=out.parent))
        # mkdtemp's folder is private; the results folder gets the mode of the one it replaces, or
        # what the user's umask gives a new folder (a shared drive's colleagues keep their access).
        os.chmod(staging, out.stat().st_mode & 0o7777 if out.is_dir() else 0o777 & ~_umask())
    except OSError as error:
        raise OutputError(f"Cannot write the results beside {out}: {error.strerror or error}.") from error
    try:
        yield staging
    except BaseException:
        _salvage(staging, out)
        shutil.rmtree(staging, ignore_errors=True)
        for folder in made:  # the parents made for the set, unless something was salvaged into them
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    aside = staging / SET_ASIDE
    try:
        if aside.is_file():  # an incomplete set beside a complete one: put beside it, not over it
            target = Path(aside.read_text())
            aside.unlink()
            os.replace(staging, target)
            return
        _swap_in(staging, out)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"Could not put the results in {out}: {error.strerror or error}; its earlier contents are kept.") from error


def set_aside(staging: Path, out: str | os.PathLike[str]) -> Path | None:
    """For a set that stopped before it was whole (a model and run.json, no TIFF): where it is put when
    :func:`result_set` ends — a new folder beside ``out`` (``out.stopped-YYYYmmdd-HHMMSS``) where ``out``
    holds an earlier run's results, which a stopped run must not replace (a new user's Ctrl-C during the
    tiles deleted seven complete TIFFs); None where ``out`` holds none (the set is put in ``out``)."""
    out = Path(os.path.abspath(out))
    if not (out.is_dir() and any((out / name).exists() for name in EARLIER_RESULTS - {"run.json"})):
        return None
    target = out.parent / f"{out.name}.stopped-{time.strftime('%Y%m%d-%H%M%S')}"
    while target.exists():
        target = target.with_name(target.name + "-")
    (staging / SET_ASIDE).write_text(str(target))
    return target


def _umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux); elsewhere set
    and put back at once."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:")), 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _salvage(staging: Path, out: Path) -> None:
    for name in SALVAGED:
        if (staging / name).is_file() and not (out / name).exists():
            with contextlib.suppress(OSError):
                out.mkdir(exist_ok=True)
                os.replace(staging / name, out / name)


def _trained(record: Path) -> bool:
    """Whether ``record`` (a result set's ``run.json``) is that of a run that trained its ``model.pt``
    (not one that only applied a model, with ``separate --steps 0`` it is saved again)."""
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        run = json.loads(record.read_text())
        return "model.pt" in run.get("outputs", []) and bool((run.get("resolved") or {}).get("steps"))
    return False


def _swap_in(staging: Path, out: Path) -> None:
    """``staging`` becomes ``out``; ``out``'s entries the set lacks move along (as :func:`result_set`
    says); undone if a step fails."""
    if not out.exists():
        os.rename(staging, out)
        return
    lacked = sorted(entry.name for entry in out.iterdir() if not (staging / entry.name).exists())
    carried = {name: name for name in lacked if name not in EARLIER_RESULTS}
    if "model.pt" not in carried and _trained(staging / "run.json"):
        carried.pop(KEPT_MODEL_RECORD, None)  # the record of a model trained over (one only applied keeps it)
    elif "model.pt" in carried and KEPT_MODEL_RECORD not in carried and _trained(out / "run.json"):
        carried["run.json"] = KEPT_MODEL_RECORD  # the record of how the kept model was made
    dropped = [name for name in lacked if name not in carried]
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.{ASIDE_TAG}-", dir=out.parent))
    moved: list[tuple[str, str]] = []
    try:
        for name, new_name in carried.items():
            os.rename(out / name, staging / new_name)
            moved.append((name, new_name))
        os.rename(out, aside / out.name)
    except BaseException:
        for name, new_name in moved:
            os.rename(staging / new_name, out / name)
        aside.rmdir()
        raise
    try:
        os.rename(staging, out)
    except BaseException:
        os.rename(aside / out.name, out)
        for name, new_name in moved:
            os.rename(staging / new_name, out / name)
        aside.rmdir()
        raise
    shutil.rmtree(aside, ignore_errors=True)
    if dropped:
        warnings.warn(
            f"Removed from {out} the earlier results this run does not make again: {', '.join(dropped)}.",
            UserWarning, stacklevel=4,
        )
    if carried.get("run.json") == KEPT_MODEL_RECORD:
        warnings.warn(
            f"The earlier model.pt in {out} is kept; the record of the run that made it is now {KEPT_MODEL_RECORD}.",
            UserWarning, stacklevel=4,
        )
