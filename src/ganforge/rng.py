"""Random generators derived from integers, so that data order, augmentation, fixed noise and
sampling are functions of (seed, step, purpose) and survive a resume unchanged."""

from __future__ import annotations

import hashlib

import torch


def seed_of(*parts: int) -> int:
    """A 63-bit seed determined by the given integers (order matters)."""
    h = hashlib.sha256(",".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "little") & (2**63 - 1)


def seeded(*parts: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator (on ``device``) determined by the given integers."""
    return torch.Generator(device=device).manual_seed(seed_of(*parts))
