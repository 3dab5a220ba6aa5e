"""One entry to a recipe's data: images, translation pairs or unpaired domains, for training or validation."""

from __future__ import annotations

from typing import Any

import torch

from ..config import DataConfig
from .loader import Data


def open_data(cfg: DataConfig, batch_size: int, seed: int, device: torch.device, kind: str,
              val_images: int = 0, shard: tuple[int, int] = (0, 1)) -> Any:
    """The training data of a recipe's kind (images, pairs, unpaired domains), or with ``val_images`` its
    validation data: the whole images resized to the crop size, no jitter; None when there is none.
    ``batch_size`` is the global batch; ``shard`` = (rank, world) under torchrun (see :class:`Data`)."""
    if val_images:
        from .paired import val_config

        cfg = val_config(cfg, val_images)
    part = "val" if val_images else "train"
    if kind == "unpaired":
        from .unpaired import UnpairedData

        return UnpairedData.open(cfg, batch_size, seed, device, part, shard)
    if kind == "pairs" and val_images:
        from .paired import has_validation

        if not has_validation(cfg):
            return None
    return Data(cfg, batch_size, seed, device, kind=kind, part=part, shard=shard)
