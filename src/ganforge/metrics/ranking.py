"""Which score ranks checkpoints, read from an ``eval.jsonl`` row (no torch: reports import it)."""

from __future__ import annotations

from typing import Any


def main_metric(row: dict[str, Any]) -> tuple[str, bool] | None:
    """The key that ranks checkpoints and whether higher is better."""
    for k in row:
        if k == "FID" or k.startswith("FD[") or k.endswith(":FID") or ":FD[" in k:
            return k, False
    for k, hi in (("psnr", True), ("reverse_kl", False), ("modes", True)):
        if k in row:
            return k, hi
    return None
