"""The pix2pix U-Net generator (Isola, Zhu, Zhou, Efros 2017, "Image-to-Image Translation with
Conditional Adversarial Networks", appendix 6.1.1), laid out as junyanz/pytorch-CycleGAN-and-pix2pix's
``UnetGenerator`` / ``UnetSkipConnectionBlock`` so that the parameter counts match exactly.

Structure, for ``depth`` stride-2 downsamplings (8 = ``unet_256``: 256x256 -> 1x1 at the bottleneck;
7 = ``unet_128``) and ``width`` = ngf (64). Levels from the outside in, as (outer, inner) channels:

  level 0 (outermost)   (out_channels, width)        the input has in_channels
  level 1               (width, width*2)
  level 2               (width*2, width*4)
  level 3               (width*4, width*8)
  levels 4..depth-2     (width*8, width*8)           depth-5 of them, with dropout
  level depth-1         (width*8, width*8)           the innermost

Every level's down path is Conv(4x4, stride 2, pad 1), its up path ConvTranspose(4x4, stride 2, pad 1):
  down: LeakyReLU(0.2) (not on the outermost: it sees the image), Conv, norm (not on the outermost nor
        on the innermost: the bottleneck is 1x1, where a batch or instance norm of one pixel would zero it)
  up:   ReLU, ConvTranspose, norm (not on the outermost, which ends in Tanh), Dropout(0.5) on levels
        4..depth-2.
Skip connections: a non-outermost level returns torch.cat([x, level(x)], 1), so every up-conv except
the innermost one sees twice the channels of its level's inner width (the paper's decoder
CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128, ending in a conv to out_channels and Tanh).

Biases: with BatchNorm (affine) the convs followed by a norm need no bias, so every conv has
bias=(norm != "batch"), except the outermost up-conv, which keeps the torch default bias=True. (The
outermost down-conv has no norm after it and yet, like the reference, uses the same bias rule.)
InstanceNorm is the reference's InstanceNorm2d(affine=False, track_running_stats=False).

Dropout placement follows the reference code: the depth-5 levels just outside the innermost, i.e. up
layers 2..4 counted from the bottleneck for depth 8 (the paper's text puts it on the first three).
Weights: N(0, 0.02) for every conv, norm scales N(1, 0.02), biases 0 (the reference's init 'normal').

Parameters, 3 -> 3, width 64: unet_256 54,413,955 (batch) / 54,409,603 (instance);
unet_128 41,828,995 / 41,825,667.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import NETS
from .layers import check_input, init_normal

UNET_DEPTHS = {"unet_32": 5, "unet_64": 6, "unet_128": 7, "unet_256": 8}

NORMS = ("batch", "instance", "none")


def pix2pix_norm(kind: str, channels: int) -> list[nn.Module]:
    """The reference's get_norm_layer as a list of zero or one module: BatchNorm2d (affine),
    InstanceNorm2d (no affine, no running statistics) or nothing."""
    if kind == "batch":
        return [nn.BatchNorm2d(channels)]
    if kind == "instance":
        return [nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)]
    if kind == "none":
        return []
    raise ValueError(f"unknown norm {kind!r}; choices: {', '.join(NORMS)}")


def conv_bias(norm: str) -> bool:
    """A conv followed by an affine BatchNorm needs no bias; with instance norm (no affine) or none it does."""
    return norm != "batch"


@NETS.register(
    "unet_generator", init_std=0.02,
    example=lambda: (UNetGenerator(1, 3, depth=5, width=4), (torch.randn(2, 1, 32, 32),)),
    # junyanz UnetGenerator unet_256 (depth 8) / unet_128 (depth 7), 3 -> 3, ngf 64
    references=tuple(({"in_channels": 3, "out_channels": 3, "depth": depth, "width": 64, "norm": norm}, count)
                     for depth, norm, count in ((8, "batch", 54_413_955), (8, "instance", 54_409_603),
                                                (7, "batch", 41_828_995), (7, "instance", 41_825_667))))
class UNetGenerator(nn.Module):
    """U-Net generator: ``downs[i]`` and ``ups[i]`` are the two halves of level i (0 = outermost).

    forward: the down halves run in order, each output kept as the skip of its level; then
    ``ups[depth-1]`` runs on the bottleneck and every outer ``ups[i]`` on cat([skip_i, h])."""

    def __init__(self, in_channels: int, out_channels: int, depth: int = 8, width: int = 64, norm: str = "batch",
                 dropout: float = 0.5) -> None:
        super().__init__()
        if depth < 5:
            raise ValueError(f"UNetGenerator needs depth >= 5 (the width*1, *2, *4, *8 levels and an innermost one); "
                             f"got {depth}")
        pix2pix_norm(norm, 1)  # validates the name
        self.in_channels, self.out_channels, self.depth, self.width = in_channels, out_channels, depth, width
        bias = conv_bias(norm)
        inner = [width * min(2**i, 8) for i in range(depth)]  # level i's inner width: 64, 128, 256, 512, 512, ...
        outer = [out_channels] + inner[:-1]  # level i's outer width (what its up half returns)

        downs: list[nn.Module] = []
        ups: list[nn.Module] = []
        for i in range(depth):
            outermost, innermost = i == 0, i == depth - 1
            d_in = in_channels if outermost else outer[i]
            down: list[nn.Module] = [] if outermost else [nn.LeakyReLU(0.2, True)]
            down.append(nn.Conv2d(d_in, inner[i], 4, 2, 1, bias=bias))
            if not (outermost or innermost):
                down += pix2pix_norm(norm, inner[i])

            u_in = inner[i] if innermost else 2 * inner[i]  # the skip doubles the channels
            up: list[nn.Module] = [nn.ReLU(True)]
            if outermost:
                up += [nn.ConvTranspose2d(u_in, out_channels, 4, 2, 1), nn.Tanh()]
            else:
                up += [nn.ConvTranspose2d(u_in, outer[i], 4, 2, 1, bias=bias), *pix2pix_norm(norm, outer[i])]
                if dropout and 4 <= i <= depth - 2:
                    up.append(nn.Dropout(dropout))
            downs.append(nn.Sequential(*down))
            ups.append(nn.Sequential(*up))
        self.downs = nn.ModuleList(downs)
        self.ups = nn.ModuleList(ups)
        init_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, type(self).__name__, self.in_channels)
        k = 2**self.depth
        if x.shape[2] % k or x.shape[3] % k:
            raise ValueError(f"UNetGenerator(depth={self.depth}) needs H and W divisible by {k}; "
                             f"got {x.shape[2]}x{x.shape[3]}")
        skips = []
        h = x
        for down in self.downs:
            h = down(h)
            skips.append(h)
        h = self.ups[-1](skips[-1])
        for i in range(self.depth - 2, -1, -1):
            h = self.ups[i](torch.cat([skips[i], h], 1))
        return h
