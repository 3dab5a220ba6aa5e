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


@torch.no_grad()
def standing_batchnorm_stats(net: nn.Module, make_input, batches: int = 8) -> None:
    """Recompute BatchNorm running statistics as the exact average over ``batches`` fresh batches.

    A generator trained with batch statistics drifts faster than the momentum-0.1 running averages
    follow, so eval-mode samples come out washed-out; BigGAN (Brock et al. 2019, appendix C.1)
    "standing statistics" fix that. ``make_input(i)`` returns the i-th input batch.
    """
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not bns:
        return
    was_training = net.training
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: the exact mean over the batches seen
    net.train()
    for i in range(batches):
        net(make_input(i))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    net.train(was_training)


class EMA:
    """Exponential moving average of a network's weights (used for sampling, as in ProGAN/StyleGAN).

    ``decay`` ramps up as min(decay, (1 + t) / (10 + t)) so that early averages are not dominated by
    the random initialisation. Buffers (BatchNorm statistics) are copied, not averaged.
    """

    def __init__(self, net: nn.Module, decay: float) -> None:
        import copy

        self.decay, self.updates = decay, 0
        self.net = copy.deepcopy(net).requires_grad_(False)

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema_p = [p for p in self.net.parameters()]
        torch._foreach_lerp_(ema_p, [p.detach() for p in net.parameters()], 1.0 - d)
        for b_ema, b in zip(self.net.buffers(), net.buffers()):
            b_ema.copy_(b)

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.updates = int(state["updates"])
