"""Shape checks at the entry of the core's public tensor functions, as kornia does.

A tensor of the wrong layout — an (H, W) image where (N, 1, H, W) is meant, channels last — would
otherwise broadcast silently into a wrong result or fail deep inside a convolution with a message
about its internals. :func:`check_shape` names the argument and the layout it should have. It
reads only ``tensor.shape``: no pixel is touched, so it costs nothing beside the work it guards.

A wrong shape here is a programming error (the faces always pass well-formed tensors), so it is a
plain :class:`ValueError`, not one of the user-facing errors of :mod:`.errors`.
"""

from __future__ import annotations

from typing import Any


def check_shape(tensor: Any, layout: str, name: str, sizes: dict[str, int] | None = None) -> dict[str, int]:
    """Check that ``tensor`` has the ``layout`` and return the sizes its named axes took.

    Parameters
    ----------
    tensor
        Anything with a ``.shape`` (a torch tensor, a numpy array).
    layout
        The axes, space-separated: a name (``"N"``, ``"H"``) takes any size, a number (``"1"``,
        ``"3"``) must match exactly, e.g. ``"N 1 H W"``.
    name
        The argument's name, for the message.
    sizes
        Sizes already taken by names (what an earlier call returned): a name found here must have
        the same size again, so that two arguments can be checked to agree (same N, H, W).

    Returns
    -------
    dict
        ``sizes`` with this tensor's named axes added (a new dict; ``sizes`` is not changed).

    Raises
    ------
    ValueError
        The wrong number of axes, a fixed axis of another size, or a named axis that disagrees with
        ``sizes``; the message names ``name`` and gives the expected and actual shapes.

    Examples
    --------
    >>> import torch
    >>> sizes = check_shape(torch.zeros(2, 3, 8, 8), "N 3 H W", "rgb_surface")
    >>> sizes
    {'N': 2, 'H': 8, 'W': 8}
    >>> check_shape(torch.zeros(2, 8, 9), "N 1 H W", "x_mixed", sizes)
    Traceback (most recent call last):
    ...
    ValueError: x_mixed must be (N, 1, H, W) = (2, 1, 8, 8); got (2, 8, 9)
    """
    axes = layout.split()
    shape = tuple(int(size) for size in tensor.shape)
    taken = dict(sizes or {})
    fits = len(shape) == len(axes)
    if fits:
        for axis, size in zip(axes, shape):
            if axis.isdigit():
                fits = fits and size == int(axis)
            elif taken.setdefault(axis, size) != size:
                fits = False
    if not fits:
        expected = f"({', '.join(axes)})"
        known = sizes or {}
        if any(axis in known for axis in axes):  # the sizes the other arguments fixed
            expected += f" = ({', '.join(str(known.get(axis, axis)) for axis in axes)})"
        raise ValueError(f"{name} must be {expected}; got {shape}")
    return taken
