"""Generator and discriminator of dense layers: the "vanilla" GAN of Goodfellow et al. (2014) as the
seeds and most tutorials build it on MNIST (G: z -> 256 -> 512 -> 1024 -> 784, LeakyReLU 0.2,
optional BatchNorm, Tanh; D: 784 -> 1024 -> 512 -> 256 -> 1 logit, LeakyReLU 0.2), and the same
networks on 2-D points (no Tanh: toy data is not bounded to [-1, 1]).

Conditional (Mirza & Osindero 2014): the one-hot label is concatenated to z in G and to the flattened
input in D. ``out_shape`` is (C, H, W) for images or (D,) for points.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import NETS
from .layers import ClassHeads, MinibatchStd, check_condition, check_latent, pack, spectral_normalize, with_labels


@NETS.register(  # no published reference count: the seeds' dense GAN is counted by hand in test_gan_family
    "mlp_generator", references=(),
    example=lambda: (MLPGenerator(8, (1, 8, 8), (16, 32)), (torch.randn(4, 8),)))
class MLPGenerator(nn.Module):
    def __init__(self, latent_dim: int = 100, out_shape: tuple[int, ...] = (1, 28, 28),
                 hidden: tuple[int, ...] = (256, 512, 1024), batchnorm: bool = True, dropout: float = 0.0,
                 n_classes: int = 0, tanh: bool = True) -> None:
        super().__init__()
        self.latent_dim, self.out_shape, self.n_classes = latent_dim, tuple(out_shape), n_classes
        layers: list[nn.Module] = []
        width = latent_dim + n_classes
        for i, h in enumerate(hidden):
            # no BatchNorm on the first layer (it would normalise the noise itself), as in the common MNIST code
            layers += [nn.Linear(width, h), *([nn.BatchNorm1d(h)] if batchnorm and i else []), nn.LeakyReLU(0.2, True),
                       *([nn.Dropout(dropout)] if dropout else [])]
            width = h
        layers += [nn.Linear(width, math.prod(out_shape)), *([nn.Tanh()] if tanh else [])]
        self.main = nn.Sequential(*layers)  # PyTorch's default init, as the MLP GAN code the seeds follow

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_latent(z, self.latent_dim)
        return self.main(with_labels(z, y, self.n_classes)).view(-1, *self.out_shape)  # (N, prod) -> (N, *out_shape)


@NETS.register(
    "mlp_discriminator", references=(),
    example=lambda: (MLPDiscriminator((1, 8, 8), (32, 16)), (torch.randn(4, 1, 8, 8),)))
class MLPDiscriminator(nn.Module):
    def __init__(self, in_shape: tuple[int, ...] = (1, 28, 28), hidden: tuple[int, ...] = (1024, 512, 256),
                 n_classes: int = 0, packing: int = 1, minibatch_std: bool = False, spectral_norm: bool = False,
                 dropout: float = 0.0, condition: str = "concat", aux_classes: int = 0) -> None:
        """``condition``: how the label enters a conditional D: ``concat`` (one-hot appended to the input, Mirza &
        Osindero) or ``projection`` (Miyato & Koyama); ``aux_classes`` > 0 adds an AC-GAN class head."""
        super().__init__()
        check_condition(condition, n_classes, packing, aux_classes)
        self.in_shape, self.packing = tuple(in_shape), packing
        self.n_classes = n_classes if condition == "concat" else 0  # the classes fed in with the input
        width = (math.prod(in_shape) + self.n_classes) * packing
        layers: list[nn.Module] = []
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2, True), *([nn.Dropout(dropout)] if dropout else [])]
            width = h
        if minibatch_std:
            layers += [MinibatchStd()]
        layers += [nn.Linear(width + int(minibatch_std), 1)]
        self.main = nn.Sequential(*layers)  # PyTorch's default init, as the MLP GAN code the seeds follow
        self.heads = ClassHeads(width + int(minibatch_std), n_classes, condition == "projection", aux_classes) \
            if condition != "concat" or aux_classes else None
        if spectral_norm:
            spectral_normalize(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_with_classes(x, y)[0]

    def forward_with_classes(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(N/m,) logits and, with an AC-GAN head, (N, K) class logits (else None)."""
        if tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(f"discriminator expects input of shape (N, {', '.join(map(str, self.in_shape))}), "
                             f"got {tuple(x.shape)}")
        h = pack(with_labels(x.flatten(1), y, self.n_classes), self.packing)  # (N/m, m*(F+K))
        if self.heads is None:
            return self.main(h).flatten(), None
        features = self.main[:-1](h)  # (N, F'): what the last layer reads
        return self.heads(features, self.main[-1](features).flatten(), y)
