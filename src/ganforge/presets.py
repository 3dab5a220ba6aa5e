"""Named starting points: each preset is a config layer (recipe defaults apply underneath).

``ganforge presets`` lists them; ``ganforge train --preset NAME`` uses one; ``ganforge train`` with no
arguments uses ``DEFAULT``. The DCGAN numbers follow the paper and pytorch/examples/dcgan (Adam 2e-4,
betas (0.5, 0.999), batch 64/128, N(0, 0.02) init).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import choices_error


@dataclass(frozen=True)
class Preset:
    summary: str
    layer: dict[str, Any]
    needs_data: bool = False  # the preset has no usable default data source


def _dcgan(source: str, size: int, channels: int, batch: int, epochs: int, **data: Any) -> dict[str, Any]:
    return {
        "recipe": "dcgan",
        "model": {"latent_dim": 100, "g_width": 64, "d_width": 64, "ema": 0.999},
        "data": {"source": source, "image_size": size, "channels": channels, **data},
        "optim": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999},
        "train": {"batch_size": batch, "epochs": epochs},
    }


PRESETS: dict[str, Preset] = {
    "dcgan-pizza": Preset(
        "offline demo: small DCGAN, 32x32 procedural pizzas (builtin:pizza), ~2 min on 2 CPU cores",
        {"recipe": "dcgan", "model": {"latent_dim": 64, "g_width": 32, "d_width": 32, "ema": 0.999},
         "data": {"source": "builtin:pizza", "image_size": 32, "channels": 3, "builtin_n": 4096},
         "optim": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999},
         "train": {"batch_size": 64, "epochs": 28, "log_every": 16}}),
    # Batch 64 rather than the example's 128: twice the updates per epoch, visibly better digits after one.
    "dcgan-mnist": Preset("DCGAN on MNIST at 32x32, 1 channel, batch 64, 5 epochs (data: mnist or --data PATH)",
                          _dcgan("mnist", 32, 1, 64, 5)),
    "dcgan-fashion-mnist": Preset("DCGAN on Fashion-MNIST at 32x32, 1 channel, batch 64, 10 epochs",
                                  _dcgan("fashion-mnist", 32, 1, 64, 10)),
    "dcgan-cifar10": Preset("DCGAN of pytorch/examples on CIFAR-10 resized to 64x64, batch 64, 30 epochs",
                            _dcgan("cifar10", 64, 3, 64, 30)),
    "dcgan-folder": Preset("DCGAN on any image folder (e.g. LSUN bedrooms) at 64x64, batch 128, 25 epochs",
                           _dcgan("", 64, 3, 128, 25), needs_data=True),
}
DEFAULT = "dcgan-pizza"


def get(name: str) -> Preset:
    if name not in PRESETS:
        raise choices_error("preset", name, list(PRESETS))
    return PRESETS[name]
