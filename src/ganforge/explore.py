"""Latent exploration: images on the path between the latent vectors of given seeds, as strips and loops.

The latent of seed ``s`` is the noise ``ganforge sample --seed s --n 1`` draws. Between two latents the path
is linear (``lerp``) or spherical (``slerp``, White 2016, "Sampling Generative Networks": for Gaussian
latents it keeps the norm typical of the prior, where the straight line passes through low-norm points the
generator rarely saw). A strip holds ``steps`` images per pair of consecutive seeds, endpoints included;
a walk visits every seed and returns to the first, as a GIF (Pillow) or an MP4 (imageio with ffmpeg).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import GanforgeError
from .rng import seeded

MODES = ("slerp", "lerp")


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(1 - t) a + t b for each t: (T,) x (D,) -> (T, D)."""
    return (1 - t)[:, None] * a[None] + t[:, None] * b[None]


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """White's slerp: sin((1-t) W)/sin W a + sin(t W)/sin W b, W the angle between a and b; lerp when they are
    (anti)parallel."""
    cos = torch.clamp(torch.dot(a / a.norm(), b / b.norm()), -1.0, 1.0)
    omega = torch.arccos(cos)
    if float(torch.sin(omega)) < 1e-6:
        return lerp(a, b, t)
    wa, wb = torch.sin((1 - t) * omega) / torch.sin(omega), torch.sin(t * omega) / torch.sin(omega)
    return wa[:, None] * a[None] + wb[:, None] * b[None]


def _latent(recipe: Any, seed: int) -> torch.Tensor:
    return recipe.sample_inputs(1, seeded(seed, 4))["z"][0].flatten()


def path_latents(recipe: Any, seeds: list[int], steps: int, mode: str, loop: bool = False) -> torch.Tensor:
    """Latents along the path through ``seeds`` (back to the first when ``loop``): (legs * steps, D), each leg
    with both endpoints (a loop drops each leg's last point, which is the next leg's first)."""
    if mode not in MODES:
        raise GanforgeError(f"--mode {mode!r}; choices: {', '.join(MODES)}")
    if steps < 2:
        raise GanforgeError(f"--steps must be >= 2 (the two endpoints); got {steps}")
    if len(seeds) < 2:
        raise GanforgeError(f"--seeds needs at least two seeds, e.g. 3,17; got {','.join(map(str, seeds))}")
    z = [_latent(recipe, s) for s in seeds + (seeds[:1] if loop else [])]
    t = torch.linspace(0, 1, steps)
    f = slerp if mode == "slerp" else lerp
    legs = [f(a, b, t) for a, b in itertools.pairwise(z)]
    return torch.cat([leg[:-1] for leg in legs] if loop else legs)


def render(recipe: Any, latents: torch.Tensor, label: int | None = None) -> torch.Tensor:
    shape = recipe.sample_inputs(1, seeded(0, 4))["z"].shape[1:]
    inputs: dict[str, torch.Tensor] = {"z": latents.view(len(latents), *shape)}
    if getattr(recipe, "conditional", False):
        if label is None:
            raise GanforgeError(f"{recipe.cfg.recipe} is class-conditional: give --class K to fix the class")
        inputs["y"] = torch.full((len(latents),), label, dtype=torch.long)
    return recipe.generate(inputs)


def check_generative(recipe: Any) -> None:
    if getattr(recipe, "translates", False) or recipe.data.points:
        kind = "translates images" if getattr(recipe, "translates", False) else "draws 2-D points"
        raise GanforgeError(f"interpolate needs a model that generates images from noise; {recipe.cfg.recipe} {kind}")


def write_video(frames: torch.Tensor, path: Path, fps: int) -> None:
    """(N, C, H, W) in [-1, 1] -> a looping GIF (Pillow) or an MP4 (imageio + imageio-ffmpeg)."""
    from .data.images import to_pil

    if fps < 1:
        raise GanforgeError(f"--fps must be >= 1; got {fps}")
    images = [to_pil(f.float().cpu().clamp(-1, 1).add(1).div(2)) for f in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
        return
    if suffix == ".mp4":
        try:
            import imageio.v2 as imageio
        except ImportError:
            raise GanforgeError("an MP4 needs imageio and imageio-ffmpeg (pip install imageio imageio-ffmpeg); "
                                "or write a .gif") from None
        # macroblock-friendly frames: sides rounded up to a multiple of 16 by edge padding
        arr = [np.asarray(im.convert("RGB")) for im in images]
        h, w = arr[0].shape[:2]
        ph, pw = -h % 16, -w % 16
        with imageio.get_writer(path, fps=fps, codec="libx264", quality=8, macro_block_size=1) as writer:
            for a in arr:
                writer.append_data(np.pad(a, ((0, ph), (0, pw), (0, 0)), mode="edge"))
        return
    raise GanforgeError(f"--video {str(path)!r}: write a .gif or an .mp4")
