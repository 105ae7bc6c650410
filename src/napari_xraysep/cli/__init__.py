"""The ``xraysep`` command: :mod:`.parser` (the arguments, light: ``xraysep --help`` needs no science),
:mod:`.commands` (separate, apply and demo's work), :mod:`.align` and :mod:`.weave` (those commands'
work) — all imported once a command runs —, :mod:`.terminal` (progress bars, Ctrl-C and SIGTERM) and
:mod:`.demo` (``xraysep demo``)."""

from .parser import main

__all__ = ["main"]
