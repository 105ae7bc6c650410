"""Running long jobs from a terminal: a progress line on stderr and Ctrl-C that stops gracefully.
Shared by the ``xraysep`` command and the demo, which both drive the core's progress generators.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Generator, Iterator
from typing import Any, TextIO, TypeVar

from tqdm import tqdm

from ..core import TrainingProgress
from ..core.progress import drive
from ..core.streaming import TileProgress
from ..pipeline import AlignmentNote, RunEvent


Result = TypeVar("Result")


def _columns(stream: TextIO) -> int | None:
    """The width of the terminal ``stream`` writes to, or None where it cannot be read."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None


class ProgressBar:
    """Progress of a long job on stderr through :mod:`tqdm`: on a terminal one line redrawn in place
    (count, bar, losses, ETA); otherwise — a log file, CI — a plain line about every 10 %, at evenly
    spaced counts, and at the end.
    Called with :class:`TrainingProgress` (steps and losses) or :class:`TileProgress` (tiles);
    :meth:`close` ends the line (also after an interrupted run)."""

    LINES = 10

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        # A terminal of no width (a pty opened without its size) gets the plain lines: tqdm draws nothing there.
        self.interactive = self.stream.isatty() and _columns(self.stream) != 0
        self.bar: tqdm | None = None
        self._last_done = 0
        self._unit = ""

    def __call__(self, progress: TrainingProgress | TileProgress) -> None:
        if isinstance(progress, TileProgress):
            unit, done, total, details = progress.unit, progress.done, progress.total, progress.what
            run = f"{unit}: {progress.what}"
        else:
            unit, done, total = "step", progress.step, progress.total_steps
            details = f"loss {progress.losses['total']:.4f}"
            if progress.losses.get("exclusion") is not None:
                details += f" (exclusion {progress.losses['exclusion']:.4f})"
            run = unit
        # Training done, the tiles begin (or a second pass over them): a bar and counts of their own.
        if run != self._unit:
            self.close()
            self._unit, self._last_done = run, 0
        text = f"{unit} {{n_fmt}}/{{total_fmt}} |{{bar}}| ETA {{remaining}}{{postfix}}"
        if self.interactive:
            if self.bar is None:
                self.bar = tqdm(total=total, file=self.stream, bar_format=text, dynamic_ncols=True, postfix=details)
            self.bar.set_postfix_str(details, refresh=False)
            self.bar.update(done - self.bar.n)
            if done >= total:
                self.close()
            return
        # The first, then every k-th step or tile, k the same all along, so the counts climb evenly
        # (12 steps: 1, 2, 4, … 12 — not 6 then 8).
        every = max(1, -(-total // self.LINES))
        if done > self._last_done and (self._last_done == 0 or done % every == 0 or done >= total):
            self._last_done = done
            meter = tqdm.format_meter(done, total, progress.elapsed_s, bar_format=text.replace(" |{bar}|", ""), postfix=details)
            self.stream.write(meter + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run_in_terminal(
    steps: Generator[RunEvent, None, Result], stop: threading.Event, quiet: bool,
    what: str | Callable[[RunEvent | None], str] | None = None,
) -> Result:
    """Drive a run (:func:`~napari_xraysep.pipeline.iter_run`'s events, or tiles being applied) to its
    end: its progress on the progress line (none if ``quiet``), its alignment check as a warning
    (always), and a first Ctrl-C setting ``stop`` so the run ends after its current step or tile
    (saying ``what`` then happens — or what ``what`` says of the run's latest event, None before the
    first; by default, what a training does)."""
    latest: list[RunEvent | None] = [None]
    said = (lambda: what(latest[0])) if callable(what) else (lambda: what or TRAINING_STOP)
    with stop_on_first_interrupt(stop, said), contextlib.closing(ProgressBar()) as bar:

        def show(event: RunEvent) -> None:
            latest[0] = event
            if isinstance(event, AlignmentNote):
                if event.text:
                    warnings.warn(f"{event.text} (xraysep align)", UserWarning, stacklevel=1)
            elif not quiet:
                bar(event)
                if isinstance(event, TrainingProgress) and event.step >= event.total_steps:
                    # Applying the model has no steps to count and can take long (the paper's patch
                    # averaging): say that it is under way, so that the terminal is not silent.
                    print("xraysep: training done; applying the model to the image…", file=sys.stderr, flush=True)

        return drive(steps, show)


TRAINING_STOP = "stopping after this step; the model so far, if a step was made, will be applied and saved"


@contextlib.contextmanager
def stop_on_first_interrupt(stop: threading.Event, what: str | Callable[[], str] = TRAINING_STOP) -> Iterator[None]:
    """First Ctrl-C: set ``stop`` (the run ends after its current step or tile, saying ``what``, or what
    ``what()`` says then). Second Ctrl-C: abort."""

    def on_interrupt(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print(f"\nxraysep: {what() if callable(what) else what} (Ctrl-C again to abort).", file=sys.stderr)

    with signal_handled(signal.SIGINT, on_interrupt):
        yield


@contextlib.contextmanager
def signal_handled(signum: int, handler: Any) -> Iterator[None]:
    """While the block runs, ``handler`` answers the signal ``signum``; the previous handler after it.
    Python lets only the main thread set handlers: elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signum, handler)
    try:
        yield
    finally:
        signal.signal(signum, previous)


