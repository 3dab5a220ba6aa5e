"""Random generators derived from integers, so that data order, augmentation, fixed noise and
sampling are functions of (seed, step, purpose) and survive a resume unchanged."""

from __future__ import annotations

import enum
import hashlib

import torch


class Stream(enum.IntEnum):
    """The purposes of random streams: ``seeded(seed, [epoch or step,] Stream.X)``. One place for the numbers that
    must agree across files (the sampling stream is the same in sample, interpolate and evaluate)."""

    ORDER = 1  # the epoch's shuffle: (seed, epoch, ORDER)
    AUGMENT = 2  # the epoch's crop/flip draws: (seed, epoch, AUGMENT); classifier training: (seed, step, AUGMENT)
    PREVIEW = 3  # the fixed inputs of the per-epoch sample grid: (train.seed, PREVIEW)
    SAMPLE = 4  # `ganforge sample --seed S`, interpolation latents, evaluation samples: (S, SAMPLE)
    STANDING_BN = 5  # the fresh noise of standing BatchNorm statistics: (STANDING_BN,)
    EPOCH_END = 6  # torch's default generator while sampling and validating at epoch ends: train.seed + EPOCH_END
    HOLDOUT = 7  # the held-out part of a classifier's data: (seed, 0, HOLDOUT)
    NOISE = 11  # a recipe's training noise (z, the penalty's alpha, instance noise): (train.seed, NOISE)


def seed_of(*parts: int) -> int:
    """A 63-bit seed determined by the given integers (order matters)."""
    h = hashlib.sha256(",".join(str(int(p)) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "little") & (2**63 - 1)


def seeded(*parts: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator (on ``device``) determined by the given integers."""
    return torch.Generator(device=device).manual_seed(seed_of(*parts))
