"""The one exception type the faces (CLI, widget) turn into a plain message.

Anything a user can cause and fix — a wrong file, mismatched shapes, an empty region, a model file
from elsewhere — raises a subclass of :class:`XraySepError` with a sentence that says what is wrong
and what to do. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import Any


class XraySepError(Exception):
    """A problem with the user's input, settings or files, explained in one sentence."""


class InputError(XraySepError, ValueError):
    """Images, region or settings that the separation cannot work with."""


class ModelFileError(XraySepError):
    """A model file that is missing, corrupt, unsafe or made for something else."""


class OutputError(XraySepError):
    """A result or model file could not be written (disk full, no permission, folder gone)."""


class StoppedError(XraySepError):
    """The user stopped a run before it had anything to give (no training step done, no model given)."""


class TrainingError(XraySepError):
    """Training could not go on. ``model`` is the last good model (weights before the failing
    step), so the work done so far can still be applied, saved or continued."""

    def __init__(self, message: str, model: Any = None) -> None:
        super().__init__(message)
        self.model = model
