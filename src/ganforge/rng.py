"""Random generators derived from integers, so that data order, augmentation, fixed noise and
sampling are functions of (seed, step, purpose) and survive a resume unchanged."""

from __future__ import annotations

import hashlib

import torch


def seeded(*parts: int) -> torch.Generator:
    """A CPU generator determined by the given integers (order matters)."""
    h = hashlib.sha256(",".join(map(str, parts)).encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(h[:8], "little") & (2**63 - 1))
