"""Shape checks at the core's public tensor functions: a tensor of the wrong layout is named with the
layout it should have, instead of broadcasting into a wrong value or failing deep inside torch."""

from __future__ import annotations

import re

import pytest
import torch

from napari_xraysep.core import ConnectedAutoEncoder, exclusion_loss, reconstruction_loss
from napari_xraysep.core.colourmap import ColourMap
from napari_xraysep.core.filters import filter2d, gaussian_blur, highpass
from napari_xraysep.core.losses import double_sided_loss, warm_start_loss
from napari_xraysep.core.model import AutoEncoderOutputs
from napari_xraysep.core.shapes import check_shape


# ------------------------------------------------------------------------------------ the helper


def test_check_shape_returns_the_named_sizes():
    assert check_shape(torch.zeros(2, 3, 5, 7), "N 3 H W", "rgb") == {"N": 2, "H": 5, "W": 7}


def test_check_shape_names_the_argument_and_both_shapes_for_the_wrong_number_of_axes():
    with pytest.raises(ValueError, match=re.escape("image must be (N, C, H, W); got (5, 7)")):
        check_shape(torch.zeros(5, 7), "N C H W", "image")


def test_check_shape_refuses_a_fixed_axis_of_another_size():
    with pytest.raises(ValueError, match=re.escape("x_mixed must be (N, 1, H, W); got (2, 3, 5, 7)")):
        check_shape(torch.zeros(2, 3, 5, 7), "N 1 H W", "x_mixed")


def test_check_shape_holds_names_to_the_sizes_given_and_leaves_them_unchanged():
    sizes = {"N": 2, "H": 5, "W": 7}
    with pytest.raises(ValueError, match=re.escape("x must be (N, 1, H, W) = (2, 1, 5, 7); got (2, 1, 5, 8)")):
        check_shape(torch.zeros(2, 1, 5, 8), "N 1 H W", "x", sizes)
    assert check_shape(torch.zeros(2, 1, 5, 7, 4)[..., 0], "N 1 H W", "x", sizes) == sizes
    assert check_shape(torch.zeros(2, 4), "N K", "side", sizes) == {**sizes, "K": 4}
    assert sizes == {"N": 2, "H": 5, "W": 7}


def test_check_shape_reads_no_pixel():
    class ShapeOnly:  # a tensor whose values cannot be read
        shape = (1, 1, 4, 4)

    assert check_shape(ShapeOnly(), "N 1 H W", "x") == {"N": 1, "H": 4, "W": 4}


# ------------------------------------------------------------------------ the functions it guards


def test_filters_name_an_image_without_batch_and_channel_axes():
    image = torch.zeros(8, 8)
    for call in (lambda: gaussian_blur(image, 1.0), lambda: filter2d(image, torch.ones(3, 3)), lambda: highpass(image, 2.0)):
        with pytest.raises(ValueError, match=re.escape("image must be (N, C, H, W); got (8, 8)")):
            call()
    with pytest.raises(ValueError, match=re.escape("weight must be (N, 1, H, W) = (1, 1, 8, 8); got (1, 8, 8)")):
        highpass(torch.zeros(1, 1, 8, 8), 2.0, weight=torch.ones(1, 8, 8))


def _outputs(b: int = 2, h: int = 4, w: int = 5) -> AutoEncoderOutputs:
    one = torch.zeros(b, 1, h, w)
    return AutoEncoderOutputs(x1_hat=one, x2_hat=one, x_hat=one, rgb_hat=torch.zeros(b, 3, h, w), rgb_back_hat=torch.zeros(b, 3, h, w))


def test_losses_name_an_xray_that_would_broadcast_into_a_wrong_loss():
    rgb, outputs = torch.zeros(2, 3, 4, 5), _outputs()
    # (B, H, W) against (B, 1, H, W) would broadcast to (B, B, H, W) and give a finite, wrong loss.
    with pytest.raises(ValueError, match=re.escape("x_mixed must be (B, 1, H, W) = (2, 1, 4, 5); got (2, 4, 5)")):
        reconstruction_loss(rgb, torch.zeros(2, 4, 5), outputs)
    with pytest.raises(ValueError, match=re.escape("x2_hat must be (B, 1, H, W) = (2, 1, 4, 5); got (2, 1, 5, 4)")):
        exclusion_loss(torch.zeros(2, 1, 4, 5), torch.zeros(2, 1, 5, 4))
    with pytest.raises(ValueError, match=re.escape("rgb_back must be (B, C, H, W) = (2, 3, 4, 5); got (2, 4, 5, 3)")):
        double_sided_loss(rgb, torch.zeros(2, 4, 5, 3), torch.zeros(2, 1, 4, 5), outputs)
    with pytest.raises(ValueError, match=re.escape("x2_label must be (B, 1, H, W) = (2, 1, 4, 5); got (1, 1, 4, 5)")):
        warm_start_loss(rgb, torch.zeros(2, 1, 4, 5), torch.zeros(1, 1, 4, 5), outputs)


def test_models_name_a_channels_last_photograph():
    rgb_last, x = torch.zeros(1, 8, 8, 3), torch.zeros(1, 1, 8, 8)
    for model, axes in ((ConnectedAutoEncoder(channels=4).eval(), "B"), (ColourMap(), "N")):
        with pytest.raises(ValueError, match=re.escape(f"rgb_surface must be ({axes}, 3, H, W); got (1, 8, 8, 3)")):
            model(rgb_last, x)
        with pytest.raises(ValueError, match=re.escape(f"x_mixed must be ({axes}, 1, H, W) = (1, 1, 8, 8); got (1, 8, 8)")):
            model(torch.zeros(1, 3, 8, 8), torch.zeros(1, 8, 8))
