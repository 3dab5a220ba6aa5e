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
from ..registry import NETS
from .layers import check_input, init_normal

SIZES = (16, 32, 64, 128, 256)


def n_stages(image_size: int) -> int:
    """Number of stride-2 stages between 4x4 and ``image_size`` (4 for 64x64)."""
    if image_size not in SIZES:
        raise GanforgeError(f"DCGAN image size {image_size} is not supported; choices: {', '.join(map(str, SIZES))}")
    return int(math.log2(image_size // 4))


@NETS.register("dcgan_generator")
class DCGANGenerator(nn.Module):
    def __init__(self, latent_dim: int = 100, width: int = 64, channels: int = 3, image_size: int = 64) -> None:
        super().__init__()
        self.latent_dim, self.image_size, self.channels = latent_dim, image_size, channels
        n = n_stages(image_size)
        ch = width * 2 ** (n - 1)  # 512 for 64x64
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"generator expects z of shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        return self.main(z[:, :, None, None])  # (N, nz) -> (N, nz, 1, 1) -> (N, C, S, S)


@NETS.register("dcgan_discriminator")
class DCGANDiscriminator(nn.Module):
    def __init__(self, width: int = 64, channels: int = 3, image_size: int = 64) -> None:
        super().__init__()
        self.image_size, self.channels = image_size, channels
        n = n_stages(image_size)
        ch = width
        layers: list[nn.Module] = [nn.Conv2d(channels, ch, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for _ in range(n - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        layers += [nn.Conv2d(ch, 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, "discriminator", self.channels, self.image_size)
        return self.main(x).flatten()  # (N, 1, 1, 1) -> (N,) logits
