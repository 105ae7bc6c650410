import torch

from napari_xraysep.core import ConnectedAutoEncoder


def _inputs(batch=2, size=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, size, size, generator=g), torch.rand(batch, 1, size, size, generator=g)


def test_outputs_have_the_input_shapes():
    net = ConnectedAutoEncoder(channels=4).eval()
    rgb, x = _inputs()
    out = net(rgb, x)
    assert out.x1_hat.shape == out.x2_hat.shape == out.x_hat.shape == (2, 1, 20, 20)
    assert out.rgb_hat.shape == (2, 3, 20, 20)


def test_xray_encoder_is_linear_so_hidden_features_are_a_difference():
    net = ConnectedAutoEncoder(channels=4).eval()
    _, a = _inputs(seed=1)
    _, b = _inputs(seed=2)
    zero = torch.zeros_like(a)
    e = net.encode_xray
    # affine map: E(a + b) + E(0) = E(a) + E(b)
    torch.testing.assert_close(e(a + b) + e(zero), e(a) + e(b), atol=1e-5, rtol=1e-5)


def test_hidden_estimate_decodes_xray_features_minus_rgb_features():
    net = ConnectedAutoEncoder(channels=4).eval()
    rgb, x = _inputs()
    out = net(rgb, x)
    f1, f = net.encode_rgb(rgb), net.encode_xray(x)
    torch.testing.assert_close(out.x2_hat, net.decode_xray(f - f1))
    torch.testing.assert_close(out.x1_hat, net.decode_xray(f1))
    torch.testing.assert_close(out.x_hat, net.decode_xray(f))
    torch.testing.assert_close(out.rgb_hat, net.decode_rgb(f1))


def test_paper_decoder_ends_in_relu_and_linear_head_does_not():
    rgb, x = _inputs()
    paper = ConnectedAutoEncoder(channels=4, output_layer="bn_relu").eval()
    assert isinstance(paper.decode_xray[-1], torch.nn.ReLU) and (paper(rgb, x).x1_hat >= 0).all()
    linear = ConnectedAutoEncoder(channels=4, output_layer="linear")
    assert isinstance(linear.decode_xray[-1], torch.nn.Conv2d)
    assert isinstance(linear.encode_xray[1], torch.nn.Conv2d)  # E_x has no BN/ReLU at all


def test_receptive_radius_bounds_the_context():
    torch.manual_seed(0)  # a network whose units are alive at the centre, whatever ran before
    net = ConnectedAutoEncoder(channels=4, kernel_size=3, output_layer="linear").eval()
    assert net.receptive_radius == 6
    rgb, x = _inputs(batch=1, size=31)
    centre = net(rgb, x).x2_hat[0, 0, 15, 15]
    far, near = x.clone(), x.clone()
    far[..., 15, 15 + 7] += 1.0  # just outside the radius
    near[..., 15, 15 + 6] += 1.0  # just inside
    assert net(rgb, far).x2_hat[0, 0, 15, 15] == centre
    assert net(rgb, near).x2_hat[0, 0, 15, 15] != centre
