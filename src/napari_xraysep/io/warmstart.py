"""The shipped warm start (paper Fig. 3, Eq. 8): initial weights for the concealed-design network.

``scripts/train_warm_start.py`` trains them on synthetic double-sided panels and writes each weights
file beside a manifest (``napari_xraysep/weights/warm_start.json``) holding its architecture, the
settings that made it and its SHA-256. A file is only loaded if its hash matches the manifest, so a
damaged or swapped file is refused rather than silently used.

The core reads no file: :func:`warm_start_state` is handed to it (``shipped_weights`` of
:func:`~napari_xraysep.core.separation.iter_separate` and :func:`~napari_xraysep.core.training.new_model`)
by the faces' way in — :mod:`napari_xraysep.pipeline`, and through it the CLI, the dock and
``napari_xraysep.separate``.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from ..core.config import SeparationConfig
from ..core.errors import InputError, ModelFileError

MANIFEST = "warm_start.json"


def weights_dir() -> Path:
    return Path(str(resources.files("napari_xraysep") / "weights"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def warm_start_entries(directory: Path | None = None) -> list[dict[str, Any]]:
    """The manifest's entries: one per shipped weights file (empty if none ship)."""
    manifest = (directory or weights_dir()) / MANIFEST
    if not manifest.is_file():
        return []
    return json.loads(manifest.read_text(encoding="utf-8"))["weights"]


def find_warm_start(config: SeparationConfig, rgb_channels: int = 3, directory: Path | None = None) -> dict[str, Any]:
    """The manifest entry for ``config``'s architecture, or an :class:`InputError` naming those that exist."""
    entries = warm_start_entries(directory)
    for entry in entries:
        if entry["architecture"] == config.method.shape() and entry["rgb_channels"] == rgb_channels:
            return entry
    shipped = "; ".join(
        ", ".join(f"{k}={v}" for k, v in entry["architecture"].items()) for entry in entries
    ) or "none"
    raise InputError(
        f"No warm-start weights ship for {', '.join(f'{k}={v}' for k, v in config.method.shape().items())} "
        f"with {rgb_channels} photograph channels (shipped: {shipped}); turn warm start off or use "
        "a shipped architecture."
    )


def warm_start_state(
    config: SeparationConfig, rgb_channels: int = 3, directory: Path | None = None
) -> dict[str, torch.Tensor]:
    """The warm-start weights for ``config``'s architecture, checked against the manifest's hash
    (weights for ``rgb_channels`` photograph channels; side channels are added by the caller)."""
    directory = directory or weights_dir()
    entry = find_warm_start(config, rgb_channels, directory)
    path = directory / entry["file"]
    if not path.is_file():
        raise ModelFileError(f"The warm-start weights {path} are missing from the installation; reinstall napari-xraysep.")
    if sha256_of(path) != entry["sha256"]:
        raise ModelFileError(
            f"The warm-start weights {path} do not match their recorded hash; the file is damaged or was "
            "replaced. Reinstall napari-xraysep."
        )
    # The hash proves the file is the one shipped, so its network weights are read as they are.
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
