import math

import torch

from napari_xraysep.core import exclusion_loss, reconstruction_loss, separation_loss
from napari_xraysep.core.losses import downsample, gradient_magnitude, sample_norm
from napari_xraysep.core.model import AutoEncoderOutputs


def test_sample_norm_frobenius_and_rms():
    t = torch.tensor([[[3.0, 4.0]], [[0.0, 1.0]]])  # two samples
    torch.testing.assert_close(sample_norm(t), torch.tensor([5.0, 1.0]))
    torch.testing.assert_close(sample_norm(t, "rms"), torch.tensor([5.0, 1.0]) / math.sqrt(2))


def test_reconstruction_loss_hand_values():
    rgb = torch.ones(1, 3, 1, 2)
    x = torch.full((1, 1, 1, 2), 2.0)
    outputs = AutoEncoderOutputs(
        x1_hat=torch.ones(1, 1, 1, 2),
        x2_hat=torch.zeros(1, 1, 1, 2),
        x_hat=torch.tensor([[[[2.0, 5.0]]]]),
        rgb_hat=torch.zeros(1, 3, 1, 2),
    )
    terms = reconstruction_loss(rgb, x, outputs)
    torch.testing.assert_close(terms["rgb"], torch.tensor(math.sqrt(6)))  # six ones
    torch.testing.assert_close(terms["xray"], torch.tensor(3.0))  # (0, -3)
    torch.testing.assert_close(terms["mixture"], torch.tensor(math.sqrt(2)))  # (1, 1)


def test_gradient_magnitude_forward_differences():
    image = torch.tensor([[[[0.0, 3.0], [4.0, 9.0]]]])
    torch.testing.assert_close(gradient_magnitude(image, eps=0.0), torch.tensor([[[[5.0]]]]))


def test_exclusion_loss_single_level_by_hand():
    label = torch.tensor([[[[0.0, 1.0], [0.0, 0.0]]]])  # |∇| = 1, ‖·‖ = 1
    hidden = torch.tensor([[[[0.0, 0.0], [2.0, 0.0]]]])  # |∇| = 2, ‖·‖ = 2
    # λ1 = √2, λ2 = 1/√2: tanh(√2·1)·tanh(2/√2)
    expected = math.tanh(math.sqrt(2)) ** 2
    torch.testing.assert_close(exclusion_loss(label, hidden, levels=1), torch.tensor(expected))


def test_exclusion_loss_three_levels_on_ramps_by_hand():
    idx = torch.arange(9.0)
    label = (0.5 * idx).expand(9, 9)[None, None]  # slope 0.5 along x
    hidden = (2.0 * idx[:, None]).expand(9, 9)[None, None]  # slope 2 along y
    # constant gradient maps; λ1 = √(2/0.5): each element tanh(1)·tanh(1); maps 8², 4², 2²
    per_element = math.tanh(1.0) ** 2
    torch.testing.assert_close(exclusion_loss(label, hidden), torch.tensor(per_element * (8 + 4 + 2)))
    torch.testing.assert_close(exclusion_loss(label, hidden, loss_norm="rms"), torch.tensor(per_element * 3))
    torch.testing.assert_close(
        exclusion_loss(label, hidden, scaling="gradient"), torch.tensor(per_element * (8 + 4 + 2))
    )


def test_exclusion_loss_is_zero_without_shared_edges():
    label = torch.rand(2, 1, 16, 16)
    flat = torch.full((2, 1, 16, 16), 0.3)
    assert exclusion_loss(label, flat).item() < 1e-4


def test_exclusion_building_blocks_have_correct_gradients():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 1, 9, 9, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(gradient_magnitude, (image,))
    assert torch.autograd.gradcheck(lambda t: downsample(t, 2), (image,))


def test_exclusion_gradient_step_reduces_the_loss():
    # λ1/λ2 are constants for the optimiser (detached), so gradcheck of the whole loss does not
    # apply; what must hold is that a small step against the gradient lowers the loss.
    g = torch.Generator().manual_seed(0)
    label = torch.rand(2, 1, 16, 16, generator=g, dtype=torch.float64)
    for scaling in ("paper", "gradient"):
        hidden = (label + 0.1 * torch.rand(2, 1, 16, 16, generator=g, dtype=torch.float64)).requires_grad_()
        loss = exclusion_loss(label, hidden, scaling=scaling)
        (grad,) = torch.autograd.grad(loss, hidden)
        stepped = exclusion_loss(label, hidden.detach() - 1e-3 * grad / grad.norm(), scaling=scaling)
        assert stepped < loss


def test_downsample_halves_and_keeps_constants():
    image = torch.full((1, 1, 8, 6), 2.5)
    assert downsample(image, 1) is image
    out = downsample(image, 2)
    assert out.shape == (1, 1, 4, 3)
    torch.testing.assert_close(out, torch.full((1, 1, 4, 3), 2.5))


def test_separation_loss_total_is_l1_plus_lambda_l2():
    g = torch.Generator().manual_seed(1)
    rgb, x, label = torch.rand(2, 3, 10, 10, generator=g), torch.rand(2, 1, 10, 10, generator=g), torch.rand(2, 1, 10, 10, generator=g)
    outputs = AutoEncoderOutputs(*(torch.rand(2, c, 10, 10, generator=g) for c in (1, 1, 1, 3)))
    terms = separation_loss(rgb, x, label, outputs, exclusion_weight=2.5)
    expected = terms["rgb"] + terms["xray"] + terms["mixture"] + 2.5 * terms["exclusion"]
    torch.testing.assert_close(terms["total"], expected)
    assert terms["exclusion"] > 0
