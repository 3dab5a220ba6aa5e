"""One entry to a recipe's data: images, translation pairs or unpaired domains, for training or validation.

Whatever the kind, what comes back is a :class:`TrainingData`: batches of :class:`~ganforge.data.loader.Batch`
(``image``, ``label``, and for translation data ``target``, with the same crop and flip as its image). How the
loader keeps a pair together on its way to the batch (one uint8 array of input and target channels, cropped in
one go) is its own business: no consumer sees packed channels.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import torch

from ..config import DataConfig
from .loader import Batch, Data


class TrainingData(Protocol):
    """What the trainer, evaluation and the classifier read of a data set."""

    description: str  # for people: the source and its size
    n: int  # items (images, pairs, points; unpaired: the larger domain)
    steps_per_epoch: int
    unit: str  # "images", "pairs", "points", ...
    class_names: tuple[str, ...] | None
    points_dim: int  # > 0: 2-D toy points rather than images
    toy: Any  # the toy distribution of point data
    in_memory: bool
    stream_reason: str  # why the set streams from disk (read when in_memory is False)

    @property
    def has_targets(self) -> bool:  # batches carry a target (translation pairs, or a batch of domain B)
        ...

    def batches(self, start_step: int = 0) -> Iterator[Batch]:
        ...

    def ordered(self, batch_size: int, n: int = 0) -> Iterator[Batch]:
        ...


def open_data(cfg: DataConfig, batch_size: int, seed: int, device: torch.device, kind: str,
              val_images: int = 0, shard: tuple[int, int] = (0, 1)) -> TrainingData | None:
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
