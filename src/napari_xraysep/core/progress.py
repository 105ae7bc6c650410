"""Driving the progress generators every long job here is written as (training, tile-by-tile work)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TypeVar

Event = TypeVar("Event")
Result = TypeVar("Result")


def drive(steps: Generator[Event, None, Result], on_progress: Callable[[Event], None] | None = None) -> Result:
    """Run a progress generator to its end, handing each event to ``on_progress``; return its result."""
    while True:
        try:
            progress = next(steps)
        except StopIteration as finished:
            return finished.value
        if on_progress is not None:
            on_progress(progress)
