"""Driving the progress generators every long job here is written as (training, tile-by-tile work)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

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


def converted(
    steps: Generator[Event, None, Result], convert: Callable[[Event], Any]
) -> Generator[Any, None, Result]:
    """``steps``'s events passed on as ``convert`` makes them (None: not passed on), and their
    generator's return value returned: one stage's progress told in another's terms."""
    while True:
        try:
            event = next(steps)
        except StopIteration as finished:
            return finished.value
        told = convert(event)
        if told is not None:
            yield told


def clock(seconds: float) -> str:
    """A duration as M:SS, or H:MM:SS from an hour on (a whole painting's tiles take hours)."""
    minutes, secs = divmod(round(max(seconds, 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
