"""The CycleGAN ResNet generator (Johnson, Alahi, Fei-Fei 2016, "Perceptual Losses for Real-Time Style
Transfer and Super-Resolution", as used by Zhu, Park, Isola, Efros 2017, "Unpaired Image-to-Image
Translation using Cycle-Consistent Adversarial Networks", appendix 7.2), laid out as
junyanz/pytorch-CycleGAN-and-pix2pix's ``ResnetGenerator`` / ``ResnetBlock`` so that the parameter counts
match exactly.

The paper's notation (k = filters):
  c7s1-k  ReflectionPad(3), 7x7 Conv stride 1, norm, ReLU
  dk      3x3 Conv stride 2 (padding 1), norm, ReLU                       (downsampling)
  Rk      residual block: two 3x3 convs with k filters, out = x + block(x)
  uk      3x3 fractionally strided conv (ConvTranspose, stride 2, padding 1, output_padding 1), norm, ReLU
The network is c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3: 9 blocks (``resnet_9blocks``, the
paper's choice for 256x256 images) or 6 (``resnet_6blocks``, 128x128); 64 = ``width`` (ngf). The last
c7s1-3 has no norm and no ReLU: ReflectionPad(3), Conv(width, out_channels, 7) with a bias, then Tanh
(``final="tanh"``) or nothing (``final="none"``, the raw conv output).

Residual block at d = width*4: pad(1), Conv(d, d, 3), norm, ReLU, [Dropout], pad(1), Conv(d, d, 3), norm;
no ReLU after the sum. ``padding`` picks the blocks' pad: "reflect" (ReflectionPad2d(1)), "replicate"
(ReplicationPad2d(1)) or "zero" (no pad module, the convs pad by 1). The two 7x7 convs always use
ReflectionPad2d(3), as in the reference. The reference's dropout is a switch (use_dropout, p = 0.5);
here it is the probability, 0 for none.

Biases: every conv followed by a norm has bias=conv_bias(norm) (none with an affine BatchNorm); the last
conv keeps the torch default bias=True. InstanceNorm is InstanceNorm2d(affine=False,
track_running_stats=False). (The reference's use_bias is ``norm == instance``, so with norm "none" it has
no conv biases at all; here, as in this package's U-Net, a conv without a norm after it keeps its bias.)
Weights: N(0, 0.02) for every conv, norm scales N(1, 0.02), biases 0 (the reference's init 'normal').

Parameters, 3 -> 3, width 64: resnet_9blocks 11,383,427 (batch) / 11,378,179 (instance);
resnet_6blocks 7,841,411 / 7,837,699.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import NETS
from .layers import check_input, init_normal
from .unet import conv_bias, pix2pix_norm

RESNET_BLOCKS = {"resnet_9blocks": 9, "resnet_6blocks": 6}

PADDINGS = ("reflect", "replicate", "zero")
FINALS = ("tanh", "none")

N_DOWNSAMPLING = 2  # two stride-2 convs: H and W must be divisible by 4


def _pad(kind: str, size: int) -> tuple[list[nn.Module], int]:
    """The pad module(s) before a conv and the conv's own padding."""
    if kind == "reflect":
        return [nn.ReflectionPad2d(size)], 0
    if kind == "replicate":
        return [nn.ReplicationPad2d(size)], 0
    if kind == "zero":
        return [], size
    raise ValueError(f"unknown padding {kind!r}; choices: {', '.join(PADDINGS)}")


class ResnetBlock(nn.Module):
    """Rk: out = x + conv_block(x), conv_block = pad, Conv3x3, norm, ReLU, [Dropout], pad, Conv3x3, norm."""

    def __init__(self, channels: int, norm: str = "instance", dropout: float = 0.0, padding: str = "reflect") -> None:
        super().__init__()
        bias = conv_bias(norm)
        pads, p = _pad(padding, 1)
        layers: list[nn.Module] = [*pads, nn.Conv2d(channels, channels, 3, padding=p, bias=bias),
                                   *pix2pix_norm(norm, channels), nn.ReLU(True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        pads, p = _pad(padding, 1)
        layers += [*pads, nn.Conv2d(channels, channels, 3, padding=p, bias=bias), *pix2pix_norm(norm, channels)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


@NETS.register(
    "resnet_generator", init_std=0.02,
    example=lambda: (ResnetGenerator(1, 3, n_blocks=2, width=4), (torch.randn(2, 1, 16, 16),)),
    # junyanz ResnetGenerator resnet_9blocks / resnet_6blocks, 3 -> 3, ngf 64
    references=tuple(({"in_channels": 3, "out_channels": 3, "n_blocks": blocks, "width": 64, "norm": norm}, count)
                     for blocks, norm, count in ((9, "batch", 11_383_427), (9, "instance", 11_378_179),
                                                 (6, "batch", 7_841_411), (6, "instance", 7_837_699))))
class ResnetGenerator(nn.Module):
    """c7s1-w, d2w, d4w, R4w x n_blocks, u2w, uw, c7s1-out (w = ``width``), in the order of the reference's
    ``model`` Sequential: ``head`` (c7s1), ``down`` (the two dk), ``blocks``, ``up`` (the two uk), ``tail``
    (pad, last conv, final activation)."""

    def __init__(self, in_channels: int, out_channels: int, n_blocks: int = 9, width: int = 64, norm: str = "instance",
                 dropout: float = 0.0, padding: str = "reflect", final: str = "tanh") -> None:
        super().__init__()
        pix2pix_norm(norm, 1)  # validates the names before anything is built
        _pad(padding, 1)
        if final not in FINALS:
            raise ValueError(f"unknown final activation {final!r}; choices: {', '.join(FINALS)}")
        if n_blocks < 0:
            raise ValueError(f"ResnetGenerator needs n_blocks >= 0; got {n_blocks}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout}")
        self.in_channels, self.out_channels, self.n_blocks, self.width = in_channels, out_channels, n_blocks, width
        self.norm, self.dropout, self.padding, self.final = norm, dropout, padding, final
        bias = conv_bias(norm)

        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, 7, bias=bias),
                                  *pix2pix_norm(norm, width), nn.ReLU(True))
        down: list[nn.Module] = []
        for i in range(N_DOWNSAMPLING):
            c = width * 2**i
            down += [nn.Conv2d(c, c * 2, 3, stride=2, padding=1, bias=bias), *pix2pix_norm(norm, c * 2), nn.ReLU(True)]
        self.down = nn.Sequential(*down)
        inner = width * 2**N_DOWNSAMPLING
        self.blocks = nn.Sequential(*(ResnetBlock(inner, norm, dropout, padding) for _ in range(n_blocks)))
        up: list[nn.Module] = []
        for i in range(N_DOWNSAMPLING):
            c = width * 2 ** (N_DOWNSAMPLING - i)
            up += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                   *pix2pix_norm(norm, c // 2), nn.ReLU(True)]
        self.up = nn.Sequential(*up)
        tail: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7)]
        if final == "tanh":
            tail.append(nn.Tanh())
        self.tail = nn.Sequential(*tail)
        init_normal(self)

    @property
    def last_conv(self) -> nn.Conv2d:
        """The final 7x7 conv (c7s1-out)."""
        return self.tail[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, type(self).__name__, self.in_channels)
        k = 2**N_DOWNSAMPLING
        if x.shape[2] % k or x.shape[3] % k:
            raise ValueError(f"ResnetGenerator needs H and W divisible by {k} (two stride-2 downsamplings); "
                             f"got {x.shape[2]}x{x.shape[3]}")
        return self.tail(self.up(self.blocks(self.down(self.head(x)))))
