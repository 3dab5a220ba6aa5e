"""The (conditional) PatchGAN discriminator of pix2pix (Isola et al. 2017, "Image-to-Image Translation
with Conditional Adversarial Networks", section 3.2.2 "Markovian discriminator (PatchGAN)"), laid out as
junyanz/pytorch-CycleGAN-and-pix2pix's ``NLayerDiscriminator`` and ``PixelDiscriminator``.

The network is fully convolutional: each output logit judges one N x N patch of its input, and the
loss averages over the map. pix2pix conditions it by concatenating input and output images (6 channels
for RGB -> RGB). The paper's table of patch sizes compares 1x1 (PixelGAN), 16x16, 70x70 (the default)
and 286x286, which are ``n_layers`` 0, 1, 3 and 5 here.

``n_layers`` >= 1 (``width`` = ndf, mult(n) = min(2**n, 8)):
  Conv(in, width, 4, s2, p1) + LeakyReLU(0.2)                          (bias, no norm)
  n = 1..n_layers-1: Conv(width*mult(n-1), width*mult(n), 4, s2, p1) + norm + LeakyReLU(0.2)
  Conv(width*mult(n_layers-1), width*mult(n_layers), 4, s1, p1) + norm + LeakyReLU(0.2)
  Conv(width*mult(n_layers), 1, 4, s1, p1)                              (bias): the logits map
``n_layers`` = 0, the PixelGAN: the same with 1x1 convs, Conv(in, width) + LeakyReLU, Conv(width, 2*width)
  + norm + LeakyReLU, Conv(2*width, 1), every layer stride 1.
Convs followed by a norm, and the PixelGAN's last conv, have bias only without BatchNorm (as the
reference's use_bias); norm is batch, instance (no affine) or none. A 256x256 input gives a 30x30 map
with n_layers=3 and a 256x256 map with n_layers=0. Weights: N(0, 0.02), norm scales N(1, 0.02), biases 0.

Parameters, width 64, batch norm, 3 / 6 input channels: n_layers=3 2,765,633 / 2,768,705;
PixelGAN 8,832 / 9,024.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import NETS
from .layers import check_input, init_normal
from .unet import conv_bias, pix2pix_norm


def conv_specs(n_layers: int) -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) of every conv of the PatchGAN with ``n_layers``, input to output."""
    if n_layers < 0:
        raise ValueError(f"PatchGAN needs n_layers >= 0; got {n_layers}")
    if n_layers == 0:
        return [(1, 1, 0)] * 3
    return [(4, 2, 1)] * n_layers + [(4, 1, 1)] * 2


def receptive_field(n_layers: int) -> int:
    """The side of the input patch one output logit sees, from the conv kernels and strides: walking
    from the output back to the input, a field of r pixels becomes (r - 1) * stride + kernel."""
    r = 1
    for kernel, stride, _ in reversed(conv_specs(n_layers)):
        r = (r - 1) * stride + kernel
    return r


@NETS.register(
    "patchgan", init_std=0.02,
    example=lambda: (PatchGAN(6, 4, 3), (torch.randn(2, 6, 32, 32),)),
    # junyanz/pytorch-CycleGAN-and-pix2pix NLayerDiscriminator (n_layers 0 = PixelGAN), ndf 64, input 3 / 6 channels
    references=tuple(({"in_channels": c, "width": 64, "n_layers": n, "norm": norm}, count)
                     for n, norm, counts in ((3, "batch", (2_765_633, 2_768_705)), (3, "instance", (2_764_737, 2_767_809)),
                                             (1, "batch", (136_513, 139_585)), (1, "instance", (136_385, 139_457)),
                                             (2, "batch", (663_361, 666_433)), (2, "instance", (662_977, 666_049)),
                                             (4, "batch", (6_960_961, 6_964_033)), (4, "instance", (6_959_553, 6_962_625)),
                                             (0, "batch", (8_832, 9_024)), (0, "instance", (8_705, 8_897)))
                     for c, count in zip((3, 6), counts)))
class PatchGAN(nn.Module):
    """forward(x) returns the raw logits map (N, 1, h, w), one logit per receptive_field(n_layers)^2 patch."""

    def __init__(self, in_channels: int, width: int = 64, n_layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        specs = conv_specs(n_layers)
        pix2pix_norm(norm, 1)  # validates the name
        self.in_channels, self.n_layers = in_channels, n_layers
        bias = conv_bias(norm)
        if n_layers == 0:
            chans = [in_channels, width, 2 * width, 1]
        else:
            chans = [in_channels] + [width * min(2**n, 8) for n in range(n_layers + 1)] + [1]
        layers: list[nn.Module] = []
        last = len(specs) - 1
        for i, (k, s, p) in enumerate(specs):
            normed = 0 < i < last  # neither the first conv (on the image) nor the last (the logits)
            # The reference's last conv has a bias in the N-layer model, use_bias in the PixelGAN.
            has_bias = bias if normed or (i == last and n_layers == 0) else True
            layers.append(nn.Conv2d(chans[i], chans[i + 1], k, s, p, bias=has_bias))
            if normed:
                layers += pix2pix_norm(norm, chans[i + 1])
            if i < last:
                layers.append(nn.LeakyReLU(0.2, True))
        self.main = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, type(self).__name__, self.in_channels)
        return self.main(x)
