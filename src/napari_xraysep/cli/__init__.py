"""The ``xraysep`` command: :mod:`.parser` (the arguments, light: ``xraysep --help`` needs no science),
:mod:`.commands` (each command's work, imported once one runs), :mod:`.terminal` (progress bars,
Ctrl-C and SIGTERM) and :mod:`.demo` (``xraysep demo``)."""

from .parser import main

__all__ = ["main"]
