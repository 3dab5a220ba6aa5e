"""What every recipe shares: named networks/optimizers/schedulers and their state dicts.

A recipe builds its networks and optimizers from its config and defines ``train_step(batch)``, which
returns a dict of scalar tensors (no ``.item()``: the trainer gathers them every N steps). It does no
I/O, logging or checkpointing. This base only holds the bookkeeping that checkpoints need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..config import Config


@dataclass(frozen=True)
class DataInfo:
    """What a recipe needs to know about the data to build its networks."""

    channels: int
    image_size: int
    class_names: tuple[str, ...] | None = None
    points: int = 0  # dimension of point data (2-D toys); 0 = images


class Recipe:
    name: ClassVar[str]
    config_cls: ClassVar[type]
    defaults: ClassVar[dict[str, Any]] = {}  # config layer under every preset (e.g. the recipe's optimiser)

    def __init__(self, cfg: Config, data: DataInfo, device: torch.device) -> None:
        self.cfg, self.data, self.device = cfg, data, device
        self.nets: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}

    @classmethod
    def validate(cls, cfg: Config) -> None:
        """Checks of the recipe's own settings and of combinations; raise GanforgeError."""

    def train_step(self, batch: Any) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def sample_inputs(self, n: int, generator: torch.Generator, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The inputs ``generate`` takes (noise, and labels for conditional models), drawn on the CPU."""
        raise NotImplementedError

    def preview_inputs(self, n: int, generator: torch.Generator) -> tuple[dict[str, torch.Tensor], int]:
        """Inputs of the per-epoch sample image, and images per grid row (0: not a grid)."""
        return self.sample_inputs(n, generator), 8

    @torch.no_grad()
    def generate(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Images in [-1, 1] (or points) for the given inputs, in inference mode."""
        raise NotImplementedError

    def end_epoch(self, epoch: int) -> None:
        for s in self.schedulers.values():
            s.step()

    def state_dict(self) -> dict[str, Any]:
        return {
            "nets": {k: v.state_dict() for k, v in self.nets.items()},
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
        }

    def load_state_dict(self, state: dict[str, Any], nets_only: bool = False) -> None:
        for k, net in self.nets.items():
            net.load_state_dict(state["nets"][k])
        if nets_only:
            return
        for k, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][k])
        for k, sch in self.schedulers.items():
            sch.load_state_dict(state["schedulers"][k])
