"""What every recipe shares: named networks/optimizers/schedulers and their state dicts.

A recipe builds its networks and optimizers from its config and defines ``train_step(batch)``, which
returns a dict of scalar tensors (no ``.item()``: the trainer gathers them every N steps). It does no
I/O, logging or checkpointing. This base only holds the bookkeeping that checkpoints need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterable

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
    input_channels: int = 0  # translation recipes: channels of the input images (the output has ``channels``)


class Recipe:
    name: ClassVar[str]
    config_cls: ClassVar[type]
    defaults: ClassVar[dict[str, Any]] = {}  # config layer under every preset (e.g. the recipe's optimiser)
    data_kind: ClassVar[str] = "images"  # images | pairs (translation pairs: Batch.image -> Batch.target)
    translates: ClassVar[bool] = False  # has ``translate(x)`` (``ganforge translate``)

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

    def preview(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The images of the per-epoch sample grid for the fixed ``inputs``."""
        return self.generate(inputs)

    def evaluate(self, batches: Iterable[Any]) -> dict[str, float]:
        """Validation scores over ``batches`` (recipes with validation data); logged each epoch."""
        return {}

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


def linear_decay(optimizers: dict[str, torch.optim.Optimizer], cfg: Config) -> dict[str, Any]:
    """The pix2pix/CycleGAN schedule (the reference's 'linear' policy): the lr stays constant for
    ``train.epochs - optim.decay_epochs`` epochs, then falls linearly; in epoch e (0-based) it is scaled by
    1 - max(0, e + 1 - n_const) / (decay_epochs + 1). Stepped once per epoch; none when decay_epochs is 0."""
    n_decay = cfg.optim.decay_epochs
    if not n_decay:
        return {}
    n_const = cfg.train.epochs - n_decay

    def factor(epoch: int) -> float:
        return 1.0 - max(0, epoch + 1 - n_const) / (n_decay + 1)

    return {k: torch.optim.lr_scheduler.LambdaLR(opt, factor) for k, opt in optimizers.items()}
