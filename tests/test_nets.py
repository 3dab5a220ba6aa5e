"""The DCGAN networks: the seed's layout, shapes, init, the registry and bad shapes (the reference parameter
counts are checked for every registered network in test_registries.py)."""

from __future__ import annotations

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.nets import NETS

def test_dcgan_64_layout_is_the_seed_architecture() -> None:
    g = DCGANGenerator(100, 64, 3, 64)
    convs = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(100, 512), (512, 256), (256, 128), (128, 64), (64, 3)]
    assert [c.stride for c in convs] == [(1, 1)] + [(2, 2)] * 4
    d = DCGANDiscriminator(64, 3, 64)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 64), (64, 128), (128, 256), (256, 512), (512, 1)]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules()) == 3  # none after the first conv


@pytest.mark.parametrize("size", [16, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes(size: int, channels: int) -> None:
    g, d = DCGANGenerator(10, 4, channels, size), DCGANDiscriminator(4, channels, size)
    x = g(torch.randn(2, 10))
    assert x.shape == (2, channels, size, size)
    assert x.abs().max() <= 1  # tanh
    assert d(x).shape == (2,)


def test_init_is_normal_002() -> None:
    torch.manual_seed(0)
    g = DCGANGenerator(100, 64, 3, 64)
    w = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    bn = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert abs(w.std().item() - 0.02) < 1e-3 and abs(w.mean().item()) < 1e-3
    assert abs(bn.mean().item() - 1.0) < 5e-3 and abs(bn.std().item() - 0.02) < 5e-3


def test_registry_lists_networks_and_rejects_unknown() -> None:
    assert {"dcgan_generator", "dcgan_discriminator"} <= set(NETS.names())
    with pytest.raises(GanforgeError, match="unknown network 'unet_265'; choices: .*dcgan_generator"):
        NETS.get("unet_265")


def test_bad_shapes_are_reported() -> None:
    with pytest.raises(GanforgeError, match="image size 48"):
        DCGANGenerator(10, 4, 3, 48)
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 3, 32, 32\)"):
        DCGANDiscriminator(4, 3, 32)(torch.zeros(1, 3, 64, 64))
