"""Paired-translation metrics between outputs and targets: L1, PSNR and SSIM (Wang et al. 2004).

Images arrive in [-1, 1] and are scored on the [0, 1] scale (data range 1): L1 is the mean absolute
error per pixel, PSNR is 10 log10(1 / MSE) per image (capped at 100 dB), SSIM uses the standard 11x11 Gaussian window with
sigma 1.5 (torchmetrics' implementation), averaged over channels. Every score is per image, so that a
caller can average over a whole split however it is batched. Registered as the metric ``paired``, computed for
every model that translates pairs; PSNR ranks checkpoints (higher is better).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Inputs, Metric, register

if TYPE_CHECKING:
    import torch


def paired_scores(output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image ``l1``, ``psnr`` (dB) and ``ssim`` of (N, C, H, W) images in [-1, 1]."""
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    if output.shape != target.shape:
        raise ValueError(f"output {tuple(output.shape)} and target {tuple(target.shape)} differ in shape")
    x = output.detach().float().clamp(-1, 1).add(1).div(2)
    y = target.detach().float().clamp(-1, 1).add(1).div(2)
    dims = tuple(range(1, x.dim()))
    psnr = peak_signal_noise_ratio(x, y, data_range=1.0, reduction="none", dim=dims)
    ssim = structural_similarity_index_measure(x, y, data_range=1.0, reduction="none")
    # identical images have an infinite PSNR: capped at 100 dB so that averages stay finite
    return {"l1": (x - y).abs().mean(dims), "psnr": psnr.reshape(-1).clamp(max=100.0), "ssim": ssim.reshape(-1)}


def _paired(x: Inputs) -> dict[str, float]:
    return {k: float(v.mean()) for k, v in paired_scores(x.outputs, x.targets).items()}


register(Metric("paired", "L1, PSNR and SSIM of translations against their targets (pix2pix)", frozenset({"pairs"}),
                _paired, higher_is_better=True, ranks=lambda k: k == "psnr", selectable=False))
