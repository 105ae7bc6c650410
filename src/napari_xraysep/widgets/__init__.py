"""The napari dock "X-ray separation", one small module per part:

* :mod:`.state` — the typed run state every button follows, the current model, a run's record;
* :mod:`.inputs`, :mod:`.separation`, :mod:`.run` (with :mod:`.loss_plot`), :mod:`.results` — the
  four panels, in the order of the work;
* :mod:`.runner` — runs, driven by the worker's events; :mod:`.worker` — napari's ``thread_worker``,
  the activity dock and the folders runs write to; :mod:`.shown` — previews and result layers;
* :mod:`.compare` — the titled comparison, its flip key and its export;
* :mod:`.dock` — the dock that puts them together.
"""

from .dock import XraySeparationWidget

__all__ = ["XraySeparationWidget"]
