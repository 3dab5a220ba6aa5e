"""Shared layer helpers: the DCGAN/pix2pix weight initialisation.

Radford et al. (DCGAN, 2016), section 4: "All weights were initialized from a zero-centered Normal
distribution with standard deviation 0.02"; BatchNorm scales N(1, 0.02), shifts 0 (pytorch/examples dcgan).
"""

from __future__ import annotations

import torch
from torch import nn


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """Conv/Linear weights ~ N(0, std), biases 0; norm-layer weights ~ N(1, std), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.InstanceNorm2d, nn.GroupNorm, nn.LayerNorm)):
            if getattr(m, "weight", None) is not None:
                nn.init.normal_(m.weight, 1.0, std)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    """Trainable and frozen parameters, not buffers (BatchNorm running stats are not counted)."""
    return sum(p.numel() for p in module.parameters())


def check_input(x: torch.Tensor, name: str, channels: int, size: int | None = None) -> None:
    """A shape check at the top of forward: (N, C, H, W) with the expected C (and H = W = size)."""
    if x.dim() != 4 or x.shape[1] != channels or (size is not None and tuple(x.shape[2:]) != (size, size)):
        want = f"(N, {channels}, {size}, {size})" if size else f"(N, {channels}, H, W)"
        raise ValueError(f"{name} expects input of shape {want}, got {tuple(x.shape)}")
