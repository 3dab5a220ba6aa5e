"""The pix2pix networks: U-Net generator and PatchGAN discriminator.

Their reference parameter counts (junyanz) are declared at registration and checked in test_registries.py;
receptive fields are measured by backpropagating from one output logit.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganforge.nets.patchgan import PatchGAN, receptive_field
from ganforge.nets.unet import UNET_DEPTHS, UNetGenerator


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_unet_depths_constant():
    assert UNET_DEPTHS == {"unet_32": 5, "unet_64": 6, "unet_128": 7, "unet_256": 8}


@pytest.mark.parametrize("depth, size", [(5, 32), (6, 64)])
def test_unet_output_shape_and_range(depth, size):
    torch.manual_seed(0)
    net = UNetGenerator(1, 3, depth=depth, width=8)
    x = torch.randn(2, 1, size, size) * 3
    for mode in (True, False):
        net.train(mode)
        y = net(x)
        assert y.shape == (2, 3, size, size)
        assert y.abs().max() <= 1.0
        assert y.std() > 0


def test_unet_rejects_bad_inputs_and_depths():
    net = UNetGenerator(1, 3, depth=6, width=8)
    with pytest.raises(ValueError, match="divisible by 64; got 32x32"):
        net(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="divisible by 64; got 64x96"):
        net(torch.randn(1, 1, 64, 96))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        net(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match="depth >= 5"):
        UNetGenerator(1, 3, depth=4)
    with pytest.raises(ValueError, match="unknown norm"):
        UNetGenerator(1, 3, norm="layer")


@pytest.mark.parametrize("depth", [5, 6, 8])
def test_unet_dropout_modules(depth):
    with torch.device("meta"):
        on = UNetGenerator(3, 3, depth=depth, width=8)
        off = UNetGenerator(3, 3, depth=depth, width=8, dropout=0)
    drops = [m for m in on.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == depth - 5
    assert all(d.p == 0.5 for d in drops)
    assert not any(isinstance(m, nn.Dropout) for m in off.modules())
    assert n_params(on) == n_params(off)


def test_unet_skip_connections_concatenate():
    w = 8
    net = UNetGenerator(1, 3, depth=6, width=w)
    convs = [m for m in net.ups.modules() if isinstance(m, nn.ConvTranspose2d)]
    outermost = net.ups[0][1]
    assert isinstance(outermost, nn.ConvTranspose2d)
    assert (outermost.in_channels, outermost.out_channels) == (2 * w, 3)
    assert outermost.bias is not None  # torch default, as the reference
    assert net.ups[-1][1].in_channels == 8 * w  # the innermost sees only the bottleneck
    assert sorted(c.in_channels for c in convs) == sorted([2 * w, 4 * w, 8 * w, 16 * w, 16 * w, 8 * w])
    # The output really depends on the skips: zeroing the innermost up path leaves a working network.
    with torch.no_grad():
        for p in net.ups[-1].parameters():
            p.zero_()
    net.eval()
    x = torch.randn(1, 1, 64, 64, requires_grad=True)
    net(x).sum().backward()
    assert x.grad.abs().sum() > 0


def test_unet_bias_and_norm_layout():
    bn = UNetGenerator(3, 3, depth=5, width=8, norm="batch")
    inorm = UNetGenerator(3, 3, depth=5, width=8, norm="instance")
    assert sum(isinstance(m, nn.BatchNorm2d) for m in bn.modules()) == 3 + 4  # down levels 1-3, up levels 1-4
    norms = [m for m in inorm.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 7 and not any(m.affine or m.track_running_stats for m in norms)
    convs = [m for m in bn.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert [c for c in convs if c.bias is not None] == [bn.ups[0][1]]
    assert all(m.bias is not None for m in inorm.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    assert isinstance(bn.ups[0][-1], nn.Tanh)
    assert not any(isinstance(m, nn.LeakyReLU) for m in bn.downs[0])


def measured_receptive_field(n_layers: int, size: int) -> int:
    torch.manual_seed(0)
    net = PatchGAN(2, width=8, n_layers=n_layers).double().eval()
    x = torch.randn(1, 2, size, size, dtype=torch.float64, requires_grad=True)
    out = net(x)
    h, w = out.shape[2:]
    out[0, 0, h // 2, w // 2].backward()
    g = x.grad[0].abs().sum(0)
    rows = torch.nonzero(g.sum(1)).flatten()
    cols = torch.nonzero(g.sum(0)).flatten()
    # The field lies inside the input, so zero padding has not clipped it, and it has no holes.
    assert rows.min() > 0 and rows.max() < size - 1 and cols.min() > 0 and cols.max() < size - 1
    assert len(rows) == rows.max() - rows.min() + 1 and len(cols) == cols.max() - cols.min() + 1
    assert len(rows) == len(cols)
    return len(rows)


@pytest.mark.parametrize("n_layers, size, expected", [(0, 9, 1), (1, 48, 16), (3, 128, 70)])
def test_receptive_field_measured_by_gradients(n_layers, size, expected):
    assert receptive_field(n_layers) == expected
    assert measured_receptive_field(n_layers, size) == expected


def test_receptive_field_formula():
    assert [receptive_field(n) for n in range(6)] == [1, 16, 34, 70, 142, 286]
    with pytest.raises(ValueError):
        receptive_field(-1)


@pytest.mark.parametrize("n_layers, side", [(3, 30), (0, 256), (1, 126)])
def test_patchgan_output_map_shape(n_layers, side):
    net = PatchGAN(6, width=8, n_layers=n_layers).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 6, 256, 256))
    assert out.shape == (2, 1, side, side)


def test_patchgan_layout_and_input_check():
    net = PatchGAN(6, width=8, n_layers=3, norm="none")
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) for m in net.modules())
    assert all(m.bias is not None for m in net.modules() if isinstance(m, nn.Conv2d))
    bn = PatchGAN(6, width=8, n_layers=3)
    convs = [m for m in bn.modules() if isinstance(m, nn.Conv2d)]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert [c.bias is not None for c in convs] == [True, False, False, False, True]
    assert convs[-1].out_channels == 1 and not isinstance(list(bn.modules())[-1], nn.Sigmoid)
    with pytest.raises(ValueError, match=r"\(N, 6, H, W\)"):
        bn(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match="unknown norm"):
        PatchGAN(6, norm="group")


def test_init_normal_002():
    torch.manual_seed(0)
    net = PatchGAN(6, width=64, n_layers=3)
    big = [m for m in net.modules() if isinstance(m, nn.Conv2d)][3]  # 256 -> 512, 2M weights
    assert big.weight.numel() > 1_000_000
    assert 0.018 < big.weight.std().item() < 0.022 and abs(big.weight.mean().item()) < 1e-3
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    scales = torch.cat([b.weight.detach() for b in bns])
    assert abs(scales.mean().item() - 1) < 0.005 and 0.015 < scales.std().item() < 0.025
    assert all(b.bias.abs().max() == 0 for b in bns)
    assert all(m.bias.abs().max() == 0 for m in net.modules() if isinstance(m, nn.Conv2d) and m.bias is not None)
    unet = UNetGenerator(3, 3, depth=5, width=32)
    w = unet.ups[1][1].weight  # ConvTranspose 256 -> 32
    assert 0.018 < w.std().item() < 0.022
