"""DCGAN generator and discriminator (Radford, Metz, Chintala 2016, "Unsupervised Representation
Learning with Deep Convolutional GANs", figure 1), as in pytorch/examples/dcgan.

For 64x64 images with ``width`` 64 (ngf / ndf):
  G: ConvT(nz->512, 4, s1, p0) 4x4 -> ConvT 512->256->128->64 (4, s2, p1), each BatchNorm + ReLU,
     then ConvT(64->C, 4, s2, p1) + Tanh.                               3,576,704 parameters for C=3.
  D: Conv(C->64, 4, s2, p1) + LeakyReLU(0.2), Conv 64->128->256->512 (4, s2, p1) + BatchNorm + LeakyReLU,
     then Conv(512->1, 4, s1, p0): one logit (no Sigmoid: losses work on logits). 2,765,568 for C=3.
Other sizes (powers of two >= 16) add or remove one doubling stage per factor of two, keeping the
widest layer next to the 4x4 end, so 32x32 uses 256->128->64.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import GanforgeError
from .base import NETS
from .layers import (ClassHeads, MinibatchStd, check_condition, check_input, check_latent, init_normal, norm_2d, pack,
                     spectral_normalize, with_labels)

SIZES = (16, 32, 64, 128, 256)


def n_stages(image_size: int) -> int:
    """Number of stride-2 stages between 4x4 and ``image_size`` (4 for 64x64)."""
    if image_size not in SIZES:
        raise GanforgeError(f"DCGAN image size {image_size} is not supported; choices: {', '.join(map(str, SIZES))}")
    return int(math.log2(image_size // 4))


@NETS.register(
    "dcgan_generator", init_std=0.02,
    example=lambda: (DCGANGenerator(8, 4, 3, 16), (torch.randn(4, 8),)),
    # pytorch/examples dcgan: nz 100, ngf 64, 64x64
    references=(({"latent_dim": 100, "width": 64, "channels": 3, "image_size": 64}, 3_576_704),
                ({"latent_dim": 100, "width": 64, "channels": 1, "image_size": 64}, 3_574_656)))
class DCGANGenerator(nn.Module):
    """``n_classes`` > 0: the one-hot label is appended to z (a conditional DCGAN). ``dropout`` > 0:
    dropout after every hidden block (off at sampling time, like all dropout in eval mode)."""

    def __init__(self, latent_dim: int = 100, width: int = 64, channels: int = 3, image_size: int = 64,
                 n_classes: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        self.latent_dim, self.image_size, self.channels, self.n_classes = latent_dim, image_size, channels, n_classes
        n = n_stages(image_size)
        ch = width * 2 ** (n - 1)  # 512 for 64x64
        drop = [nn.Dropout(dropout)] if dropout else []
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim + n_classes, ch, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(ch), nn.ReLU(True), *drop]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True),
                       *([nn.Dropout(dropout)] if dropout else [])]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_latent(z, self.latent_dim)
        h = with_labels(z, y, self.n_classes)
        return self.main(h[:, :, None, None])  # (N, nz) -> (N, nz, 1, 1) -> (N, C, S, S)


@NETS.register(
    "dcgan_discriminator", init_std=0.02,
    example=lambda: (DCGANDiscriminator(4, 3, 16), (torch.randn(4, 3, 16, 16),)),
    references=(({"width": 64, "channels": 3, "image_size": 64}, 2_765_568),
                ({"width": 64, "channels": 1, "image_size": 64}, 2_763_520)))
class DCGANDiscriminator(nn.Module):
    """Options of the GAN toolbox: ``norm`` (batch as in the paper, layer or none: no BatchNorm in a
    critic with a gradient penalty), ``n_classes`` (label maps concatenated to the image), ``packing``
    (PacGAN), ``minibatch_std`` (a std feature map before the last conv), ``spectral_norm``."""

    def __init__(self, width: int = 64, channels: int = 3, image_size: int = 64, norm: str = "batch",
                 n_classes: int = 0, packing: int = 1, minibatch_std: bool = False, spectral_norm: bool = False,
                 condition: str = "concat", aux_classes: int = 0) -> None:
        super().__init__()
        check_condition(condition, n_classes, packing, aux_classes)
        self.image_size, self.channels, self.packing = image_size, channels, packing
        self.n_classes = n_classes if condition == "concat" else 0  # the label maps fed in with the image
        n = n_stages(image_size)
        ch = width
        layers: list[nn.Module] = [nn.Conv2d((channels + self.n_classes) * packing, ch, 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, True)]
        for _ in range(n - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm == "none"), norm_2d(norm, ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        if minibatch_std:
            layers += [MinibatchStd()]
        layers += [nn.Conv2d(ch + int(minibatch_std), 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)
        # the last conv reads a (ch, 4, 4) map: the class heads read it flattened
        self.heads = ClassHeads((ch + int(minibatch_std)) * 16, n_classes, condition == "projection", aux_classes) \
            if condition != "concat" or aux_classes else None
        init_normal(self)
        if self.heads is not None and self.heads.embed is not None:
            nn.init.zeros_(self.heads.embed.weight)
        if spectral_norm:
            spectral_normalize(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_with_classes(x, y)[0]

    def forward_with_classes(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(N/m,) logits and, with an AC-GAN head, (N, K) class logits (else None)."""
        check_input(x, "discriminator", self.channels, self.image_size)
        h = pack(with_labels(x, y, self.n_classes), self.packing)  # (N/m, m*(C+K), S, S)
        if self.heads is None:
            return self.main(h).flatten(), None  # (N/m, 1, 1, 1) -> (N/m,) logits
        features = self.main[:-1](h)  # (N, C', 4, 4)
        return self.heads(features, self.main[-1](features).flatten(), y)
