"""The WGAN-GP generator and critic for 64x64 images (Gulrajani et al. 2017, "Improved Training of
Wasserstein GANs", the DCGAN-style networks of its gan_64x64.py), which the seed's WGAN-GP (1) follows:

  G: z -> Linear(8 * 4 * 4 * dim) (8192 for dim 64) + BatchNorm + ReLU -> (8dim, 4, 4)
     -> ConvT 5x5 stride 2 to 4dim (8x8) -> 2dim (16x16) -> dim (32x32), each BatchNorm + ReLU
     -> ConvT 5x5 stride 2 to C (64x64) + Tanh.
  D: Conv 5x5 stride 2: C -> dim -> 2dim -> 4dim -> 8dim (4x4), LeakyReLU 0.2, LayerNorm on all but the
     first (no BatchNorm: the gradient penalty is per sample) -> flatten -> Linear(8dim * 16 -> 1).
Other sizes (powers of two >= 16) add or remove one stride-2 stage per factor of two. ``dropout`` after
each generator conv layer and instance noise are the seed's variant (2).
"""

from __future__ import annotations

import torch
from torch import nn

from .base import NETS
from .dcgan import n_stages
from .layers import MinibatchStd, check_latent, check_input, init_normal, norm_2d, pack, spectral_normalize, with_labels


@NETS.register(  # Gulrajani et al.'s 64x64 networks; their count is checked layer by layer in test_gan_family
    "wgangp_generator", init_std=0.02, references=(),
    example=lambda: (WGANGPGenerator(8, 4, 3, 16), (torch.randn(4, 8),)))
class WGANGPGenerator(nn.Module):
    def __init__(self, latent_dim: int = 128, width: int = 64, channels: int = 3, image_size: int = 64,
                 n_classes: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        self.latent_dim, self.n_classes = latent_dim, n_classes
        n = n_stages(image_size)
        self.ch = width * 2 ** (n - 1)  # 8 * dim for 64x64
        self.fc = nn.Sequential(nn.Linear(latent_dim + n_classes, self.ch * 16), nn.BatchNorm1d(self.ch * 16), nn.ReLU(True))
        layers: list[nn.Module] = []
        ch = self.ch
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 5, 2, 2, output_padding=1), nn.BatchNorm2d(ch // 2), nn.ReLU(True),
                       *([nn.Dropout(dropout)] if dropout else [])]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 5, 2, 2, output_padding=1), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        init_normal(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_latent(z, self.latent_dim)
        h = self.fc(with_labels(z, y, self.n_classes)).view(-1, self.ch, 4, 4)  # (N, 8dim*16) -> (N, 8dim, 4, 4)
        return self.main(h)


@NETS.register(
    "wgangp_critic", init_std=0.02, references=(),
    example=lambda: (WGANGPCritic(4, 3, 16), (torch.randn(4, 3, 16, 16),)))
class WGANGPCritic(nn.Module):
    def __init__(self, width: int = 64, channels: int = 3, image_size: int = 64, norm: str = "layer",
                 n_classes: int = 0, packing: int = 1, minibatch_std: bool = False, spectral_norm: bool = False) -> None:
        super().__init__()
        self.channels, self.image_size, self.n_classes, self.packing = channels, image_size, n_classes, packing
        n = n_stages(image_size)
        ch = width
        layers: list[nn.Module] = [nn.Conv2d((channels + n_classes) * packing, ch, 5, 2, 2), nn.LeakyReLU(0.2, True)]
        for _ in range(n - 1):
            layers += [nn.Conv2d(ch, ch * 2, 5, 2, 2), norm_2d(norm, ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        if minibatch_std:
            layers += [MinibatchStd()]
            ch += 1
        self.main = nn.Sequential(*layers)
        self.fc = nn.Linear(ch * 16, 1)
        init_normal(self)
        if spectral_norm:
            spectral_normalize(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_input(x, "critic", self.channels, self.image_size)
        h = self.main(pack(with_labels(x, y, self.n_classes), self.packing))  # (N/m, 8dim, 4, 4)
        return self.fc(h.flatten(1)).flatten()  # (N/m,) scores
