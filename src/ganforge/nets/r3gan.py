"""R3GAN's generator and discriminator (Huang, Gokaslan, Kuleshov, Tompkin, NeurIPS 2024, "The GAN is dead; long live
the GAN! A Modern GAN Baseline", section 3, config E), following the reference code github.com/brownvc/R3GAN
(R3GAN/Networks.py, R3GAN/Resamplers.py, R3GAN/FusedOperators.py; training presets in train.py).

Both networks are plain residual ConvNets with no normalisation layer, one stage per resolution 4x4, 8x8, ...:

  residual block: x + conv1x1(act(conv3x3_grouped(act(conv1x1(x)))))   (inverted bottleneck: C -> C*e -> C*e -> C,
                  the 3x3 conv grouped with ``group_width`` channels per group; act = bias + LeakyReLU(0.2))
  G: z (+ class embedding) -> 4x4 generative basis -> [blocks] -> (1x1 conv if the width changes, 2x upsample)
     -> [blocks] -> ... -> 1x1 conv to C channels. No tanh: the output is not squashed (as in the reference).
  D: 1x1 conv from C channels -> [blocks] -> (2x downsample, 1x1 conv if the width changes) -> ... -> [blocks]
     -> 4x4 discriminative basis -> one logit, or, conditional, features whose inner product with a class
     embedding is the logit (a projection head).

``widths`` and ``blocks`` are listed from the 4x4 stage up, for both networks (the reference's D takes them
reversed; this D reverses them itself), so G and D of one model share one configuration.
The reference's CIFAR-10 preset (train.py, ``--preset CIFAR10``): widths 4 x 768, blocks 4 x 2, cardinality
4 x 96 groups (= 768 * 2 / 16: ``group_width`` 16), expansion 2, latent 64; conditional: G's class embedding
has 64 dimensions (the latent's), D's 768 (widths[0]). The counts are in the NETS registrations below.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanforgeError
from .base import NETS
from .layers import MinibatchStd, check_input, check_latent

# The gain that keeps the variance of a LeakyReLU(0.2) layer (He et al.): sqrt(2 / (1 + 0.2^2)) (FusedOperators.py).
LEAKY_RELU_GAIN = math.sqrt(2 / (1 + 0.2**2))


def msr_init_(weight: torch.Tensor, gain: float = 1.0, fan_in: int | None = None) -> torch.Tensor:
    """The reference's ``MSRInitializer``: N(0, gain / sqrt(fan_in)), fan_in = in_channels / groups * k * k of a conv,
    in_features of a linear layer (``weight[0].numel()`` for both). ``gain`` 0 is a zero initialisation."""
    fan_in = weight[0].numel() if fan_in is None else fan_in
    with torch.no_grad():
        return weight.normal_(0.0, gain / math.sqrt(fan_in))


def conv(in_ch: int, out_ch: int, kernel: int, groups: int = 1, gain: float = 1.0) -> nn.Conv2d:
    """A 'same' conv without bias (biases live in the activations), MSR-initialised."""
    layer = nn.Conv2d(in_ch, out_ch, kernel, padding=(kernel - 1) // 2, groups=groups, bias=False)
    msr_init_(layer.weight, gain)
    return layer


class BiasedLeakyReLU(nn.Module):
    """The reference's ``BiasedActivation``: LeakyReLU(0.2)(x + b), b per channel starting at 0, gain 1."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias.to(x.dtype).view(1, -1, 1, 1), 0.2)


class ResidualBlock(nn.Module):
    """x + conv3(act(conv2(act(conv1(x))))): 1x1 expand by ``expansion``, grouped 3x3, 1x1 back.

    Initialisation (Networks.py, ResidualBlock): exactly the reference's fix-up style variance scaling. With L the
    total number of residual blocks of the network (``VarianceScalingParameter = sum(BlocksPerStage)``, not the
    blocks of one stage) and 3 linear layers per branch, conv1 and conv2 use gain LEAKY_RELU_GAIN * L^(-1/(2*3-2))
    = LEAKY_RELU_GAIN * L^(-1/4), and conv3, the branch's last layer, starts at zero: every block starts as the
    identity, and the first optimiser step moves only conv3 (the inner layers get gradients from the second on).
    """

    def __init__(self, channels: int, groups: int, expansion: int, variance_scaling: int) -> None:
        super().__init__()
        expanded = channels * expansion
        n_linear = 3
        gain = LEAKY_RELU_GAIN * variance_scaling ** (-1 / (2 * n_linear - 2))
        self.conv1 = conv(channels, expanded, 1, gain=gain)
        self.act1 = BiasedLeakyReLU(expanded)
        self.conv2 = conv(expanded, expanded, 3, groups=groups, gain=gain)
        self.act2 = BiasedLeakyReLU(expanded)
        self.conv3 = conv(expanded, channels, 1, gain=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv3(self.act2(self.conv2(self.act1(self.conv1(x)))))


def lowpass_kernel(taps: Sequence[int] = (1, 2, 1)) -> torch.Tensor:
    """The reference's ``CreateLowpassKernel(Filter, Inplace=False)`` (Resamplers.py): the taps convolved with
    [1, 1] (the box of a 2x nearest resampling), so [1, 2, 1] becomes the binomial [1, 3, 3, 1]; outer product with
    itself (a separable 2-D filter), normalised to sum 1. (4, 4) for [1, 2, 1]."""
    k1 = torch.tensor([float(t) for t in taps])
    k1 = F.conv1d(F.pad(k1.view(1, 1, -1), (1, 1)), torch.ones(1, 1, 2)).flatten()  # taps * [1, 1]
    k2 = k1[:, None] * k1[None, :]
    return k2 / k2.sum()


class Resample(nn.Module):
    """2x interpolative up- or downsampling of every channel with the low-pass filter above, as the reference's
    ``InterpolativeUpsamplerReference`` / ``InterpolativeDownsamplerReference`` (equal to its CUDA upfirdn2d path):
    up: transposed conv, stride 2, padding 1, kernel * 4 (the DC gain of 2x2 zero insertion); down: conv, stride 2,
    padding 1. No parameters; the kernel is a constant buffer, left out of the state dict."""

    def __init__(self, up: bool, taps: Sequence[int] = (1, 2, 1)) -> None:
        super().__init__()
        self.up = up
        self.register_buffer("kernel", lowpass_kernel(taps)[None, None], persistent=False)  # (1, 1, 4, 4)
        self.padding = len(taps) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        # every channel filtered alike: one depthwise conv (groups = C; on CPUs 2-3x faster than folding the
        # channels into the batch, and it keeps channels-last tensors channels-last)
        k = self.kernel.to(x.dtype).expand(c, 1, *self.kernel.shape[2:])  # (C, 1, 4, 4)
        if self.up:
            return F.conv_transpose2d(x, 4 * k, stride=2, padding=self.padding, groups=c)
        return F.conv2d(x, k, stride=2, padding=self.padding, groups=c)


class GenerativeBasis(nn.Module):
    """G's 4x4 input: a learned (C, 4, 4) basis, N(0, 1), each channel scaled by a linear map of the latent."""

    def __init__(self, in_dim: int, channels: int) -> None:
        super().__init__()
        self.basis = nn.Parameter(torch.empty(channels, 4, 4).normal_(0.0, 1.0))
        self.linear = nn.Linear(in_dim, channels, bias=False)
        msr_init_(self.linear.weight)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return self.basis[None] * self.linear(w)[:, :, None, None]  # (1, C, 4, 4) * (N, C, 1, 1) -> (N, C, 4, 4)


class DiscriminativeBasis(nn.Module):
    """D's 4x4 end: a depthwise 4x4 conv (one 4x4 basis per channel, a weighted sum over positions) to (N, C), then a
    linear map to ``out_dim`` (1 logit, or the features of the projection head)."""

    def __init__(self, channels: int, out_dim: int) -> None:
        super().__init__()
        self.basis = nn.Conv2d(channels, channels, 4, groups=channels, bias=False)
        self.linear = nn.Linear(channels, out_dim, bias=False)
        msr_init_(self.basis.weight)
        msr_init_(self.linear.weight)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(self.basis(h).flatten(1))  # (N, C, 4, 4) -> (N, C) -> (N, out_dim)


def n_stages(image_size: int) -> int:
    """One stage per resolution from 4x4 to ``image_size`` = 4 * 2^k: k + 1 stages."""
    k = round(math.log2(image_size / 4)) if image_size >= 4 else -1
    if k < 0 or 4 * 2**k != image_size:
        raise GanforgeError(f"R3GAN image size {image_size} is not 4 * 2^k (4, 8, 16, 32, 64, ...)")
    return k + 1


def stage_config(image_size: int, widths: Sequence[int] | None, blocks: Sequence[int] | None, group_width: int,
                 expansion: int, widths_name: str = "widths") -> tuple[list[int], list[int], list[int]]:
    """(widths, blocks, groups) per stage from 4x4 up; defaults: the CIFAR-10 preset's 768 wide, 2 blocks.
    ``widths_name`` is what errors call the widths (``d_widths`` for D's own)."""
    n = n_stages(image_size)
    widths = [768] * n if widths is None else [int(w) for w in widths]
    blocks = [2] * n if blocks is None else [int(b) for b in blocks]
    for name, values in ((widths_name, widths), ("blocks", blocks)):
        if len(values) != n:
            raise GanforgeError(f"R3GAN {name} {values} has {len(values)} stages; {image_size}x{image_size} needs {n} "
                                f"(4x4 up to {image_size}x{image_size})")
    if min(widths) < 1 or min(blocks) < 0 or expansion < 1 or group_width < 1:
        raise GanforgeError(f"R3GAN widths {widths}, blocks {blocks}, expansion {expansion}, group_width "
                            f"{group_width}: widths, expansion and group_width must be >= 1, blocks >= 0")
    bad = [w for w in widths if (w * expansion) % group_width]
    if bad:
        raise GanforgeError(f"R3GAN group_width {group_width} does not divide the expanded width (width * expansion "
                            f"{expansion}) of stages with width {bad}")
    return widths, blocks, [w * expansion // group_width for w in widths]


def check_labels(labels: torch.Tensor | None, n: int, n_classes: int) -> torch.Tensor:
    if labels is None:
        raise ValueError(f"this R3GAN network is class-conditional ({n_classes} classes): pass labels of shape ({n},)")
    if labels.shape != (n,):
        raise ValueError(f"R3GAN expects labels of shape ({n},), got {tuple(labels.shape)}")
    return labels.long()


def _example(net: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    """For the generic one-step check (tests/test_registries.py): the zero-initialised last conv of each residual
    branch blocks every gradient to the branch's inner layers on the first step (by design), so the example net gets
    small random values there; test_r3gan checks the reference initialisation itself."""
    for m in net.modules():
        if isinstance(m, ResidualBlock):
            msr_init_(m.conv3.weight, 0.1)
    return net, inputs


@NETS.register(
    "r3gan_generator",
    example=lambda: _example(R3GANGenerator(8, [16, 8], [1, 1], 8, 2, 3, 8, n_classes=3),
                             (torch.randn(6, 8), torch.arange(6) % 3)),
    # brownvc/R3GAN train.py --preset CIFAR10, counted from R3GAN/Networks.py on the meta device (10 classes: --cond)
    references=(({"latent_dim": 64, "widths": [768] * 4, "blocks": [2] * 4, "group_width": 16, "expansion": 2,
                  "channels": 3, "image_size": 32}, 20_732_160),
                ({"latent_dim": 64, "widths": [768] * 4, "blocks": [2] * 4, "group_width": 16, "expansion": 2,
                  "channels": 3, "image_size": 32, "n_classes": 10}, 20_781_952)))
class R3GANGenerator(nn.Module):
    """``n_classes`` > 0: the label's embedding (``embed_dim``, default ``latent_dim``; a bias-free linear map of the
    one-hot label in the reference) is concatenated to z before the generative basis."""

    def __init__(self, latent_dim: int = 64, widths: Sequence[int] | None = None, blocks: Sequence[int] | None = None,
                 group_width: int = 16, expansion: int = 2, channels: int = 3, image_size: int = 32,
                 n_classes: int = 0, embed_dim: int | None = None) -> None:
        super().__init__()
        widths, blocks, groups = stage_config(image_size, widths, blocks, group_width, expansion)
        self.latent_dim, self.channels, self.image_size, self.n_classes = latent_dim, channels, image_size, n_classes
        embed_dim = (embed_dim or latent_dim) if n_classes else 0
        self.embed = nn.Embedding(n_classes, embed_dim) if n_classes else None
        if self.embed is not None:  # the reference's Linear(n_classes, E) on one-hot labels: fan_in = n_classes
            msr_init_(self.embed.weight, fan_in=n_classes)
        scaling = sum(blocks)
        self.stages = nn.ModuleList()
        for i, (width, n_blocks, n_groups) in enumerate(zip(widths, blocks, groups)):
            if i == 0:
                transition: list[nn.Module] = [GenerativeBasis(latent_dim + embed_dim, width)]
            else:  # 1x1 conv (only where the width changes) then upsample, as the reference's UpsampleLayer
                transition = ([conv(widths[i - 1], width, 1)] if widths[i - 1] != width else []) + [Resample(up=True)]
            self.stages.append(nn.Sequential(*transition, *[ResidualBlock(width, n_groups, expansion, scaling)
                                                            for _ in range(n_blocks)]))
        self.aggregate = conv(widths[-1], channels, 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_latent(z, self.latent_dim)
        h = z
        if self.embed is not None:
            h = torch.cat([z, self.embed(check_labels(labels, z.shape[0], self.n_classes))], 1)  # (N, nz + E)
        for stage in self.stages:
            h = stage(h)  # (N, nz + E) -> (N, W0, 4, 4) -> (N, W1, 8, 8) -> ...
        return self.aggregate(h)  # (N, C, S, S), unbounded (roughly [-1, 1] once trained)


@NETS.register(
    "r3gan_discriminator",
    example=lambda: _example(R3GANDiscriminator([16, 8], [1, 1], 8, 2, 3, 8, n_classes=3),
                             (torch.randn(6, 3, 8, 8), torch.arange(6) % 3)),
    references=(({"widths": [768] * 4, "blocks": [2] * 4, "group_width": 16, "expansion": 2, "channels": 3,
                  "image_size": 32}, 20_683_776),
                ({"widths": [768] * 4, "blocks": [2] * 4, "group_width": 16, "expansion": 2, "channels": 3,
                  "image_size": 32, "n_classes": 10}, 21_280_512)))
class R3GANDiscriminator(nn.Module):
    """``n_classes`` > 0: the discriminative basis outputs ``embed_dim`` features (default widths[0], the 4x4 stage's
    width, as the reference) and the logit is their inner product with the label's embedding, initialised
    N(0, 1 / (embed_dim * n_classes)) as the reference's Linear(n_classes, E) with gain 1/sqrt(E).

    ``minibatch_std`` (not in the paper, which removed it from StyleGAN2 with the other tricks): the 4x4 features'
    standard deviation over groups of 4 samples (ProGAN/StyleGAN2's layer) joins them as one more channel before the
    discriminative basis, so D sees how alike the samples of a batch are."""

    def __init__(self, widths: Sequence[int] | None = None, blocks: Sequence[int] | None = None, group_width: int = 16,
                 expansion: int = 2, channels: int = 3, image_size: int = 32, n_classes: int = 0,
                 embed_dim: int | None = None, minibatch_std: bool = False) -> None:
        super().__init__()
        widths, blocks, groups = stage_config(image_size, widths, blocks, group_width, expansion)
        self.channels, self.image_size, self.n_classes = channels, image_size, n_classes
        widths, blocks, groups = widths[::-1], blocks[::-1], groups[::-1]  # from the image's resolution down to 4x4
        embed_dim = (embed_dim or widths[-1]) if n_classes else 0
        scaling = sum(blocks)
        self.extract = conv(channels, widths[0], 1)
        self.stages = nn.ModuleList()
        for i, (width, n_blocks, n_groups) in enumerate(zip(widths, blocks, groups)):
            body = [ResidualBlock(width, n_groups, expansion, scaling) for _ in range(n_blocks)]
            if i == len(widths) - 1:
                transition: list[nn.Module] = ([MinibatchStd(4), DiscriminativeBasis(width + 1, embed_dim or 1)]
                                               if minibatch_std else [DiscriminativeBasis(width, embed_dim or 1)])
            else:  # downsample then 1x1 conv (only where the width changes), as the reference's DownsampleLayer
                transition = [Resample(up=False)] + ([conv(width, widths[i + 1], 1)] if widths[i + 1] != width else [])
            self.stages.append(nn.Sequential(*body, *transition))
        self.embed = nn.Embedding(n_classes, embed_dim) if n_classes else None
        if self.embed is not None:
            msr_init_(self.embed.weight, 1 / math.sqrt(embed_dim), fan_in=n_classes)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_input(x, "R3GAN discriminator", self.channels, self.image_size)
        h = self.extract(x)  # (N, W, S, S)
        for stage in self.stages:
            h = stage(h)  # ... -> (N, 1) or (N, E)
        if self.embed is not None:  # projection: <embed(y), features>
            h = (h * self.embed(check_labels(labels, x.shape[0], self.n_classes))).sum(1, keepdim=True)
        return h.view(x.shape[0])  # (N, 1) -> (N,) logits
