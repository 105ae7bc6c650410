"""The examples in the public API's docstrings run, and show what they say (issue 24, item 5)."""

from __future__ import annotations

import doctest
import importlib
import warnings

import pytest

# The modules whose public functions carry numpydoc docstrings with examples.
DOCUMENTED = (
    "napari_xraysep.core.separation",
    "napari_xraysep.core.streaming",
    "napari_xraysep.core.registration",
    "napari_xraysep.core.pointpairs",
    "napari_xraysep.core.warp",
    "napari_xraysep.core.shapes",
    "napari_xraysep.io.read",
    "napari_xraysep.pipeline",
)


@pytest.mark.parametrize("name", DOCUMENTED)
def test_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        # Two training steps make an untrained-looking model; the examples are about shapes and sums.
        warnings.simplefilter("ignore", UserWarning)
        results = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert results.attempted > 0, f"{name} has no examples"
    assert results.failed == 0


# The public API a newcomer meets first: numpydoc sections a reader can rely on.
PUBLIC = (
    "napari_xraysep.core.separation:separate",
    "napari_xraysep.core.separation:iter_separate",
    "napari_xraysep.core.streaming:iter_apply",
    "napari_xraysep.pipeline:iter_run",
    "napari_xraysep.io.read:read_image",
    "napari_xraysep.core.registration:estimate_translation",
    "napari_xraysep.core.registration:estimate_similarity",
    "napari_xraysep.core.registration:estimate_automatic",
    "napari_xraysep.core.pointpairs:fit_transform",
    "napari_xraysep.core.warp:warp",
    "napari_xraysep.core.warp:aligned_photo",
)


@pytest.mark.parametrize("target", PUBLIC)
def test_public_functions_have_numpydoc_sections(target: str) -> None:
    module, name = target.split(":")
    doc = getattr(importlib.import_module(module), name).__doc__ or ""
    for section in ("Parameters", "Returns", "Examples"):
        assert f"\n    {section}\n    {'-' * len(section)}\n" in doc, f"{target} lacks {section}"
    assert ">>> " in doc
