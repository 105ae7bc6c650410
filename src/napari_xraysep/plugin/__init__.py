"""The napari face: the plugin's hooks (named in ``napari.yaml``) and the docks, one small module per part.

Hooks:

* :mod:`.reader`, :mod:`.writer`, :mod:`.sample_data` — open files, save a layer, the synthetic samples;
* :mod:`.layers` — layers ↔ arrays (honouring each layer's transform), result layers and their titles.

The dock "X-ray separation":

* :mod:`.state` — the typed run state every button follows, the current model, a run's record;
* :mod:`.inputs`, :mod:`.separation`, :mod:`.run` (with :mod:`.loss_plot`), :mod:`.results` — the
  four panels, in the order of the work;
* :mod:`.runner` — runs, driven by the worker's events; :mod:`.worker` — napari's ``thread_worker``,
  the activity dock and the folders runs write to; :mod:`.shown` — previews and result layers;
* :mod:`.compare` — the titled comparison, its flip key and its export; :mod:`.curtain` and
  :mod:`.threads` — the curtain view and the thread count;
* :mod:`.dock` — the dock that puts them together (:class:`~.dock.XraySeparationWidget`).

The dock "Align photograph": :mod:`.align`.

Nothing is imported here, so that a hook loads only what it needs (the reader no Qt widgets).
"""
