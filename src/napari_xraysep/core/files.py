"""Atomic file writes: results and models appear whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import OutputError


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
