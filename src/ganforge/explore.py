"""Latent exploration: images on the path between the latent vectors of given seeds, as strips and loops.

The latent of seed ``s`` is the noise ``ganforge sample --seed s --n 1`` draws. Between two latents the path
is linear (``lerp``) or spherical (``slerp``, White 2016, "Sampling Generative Networks": for Gaussian
latents it keeps the norm typical of the prior, where the straight line passes through low-norm points the
generator rarely saw). A strip holds ``steps`` images per pair of consecutive seeds, endpoints included;
a walk visits every seed and returns to the first, as a GIF (Pillow) or an MP4 (imageio with ffmpeg). Strips and
frames are enlarged for people (``data.images.display_scale``), and each file gets a ``NAME.EXT.json`` note beside
it (seeds, mode, a caption) that the report shows under it.
Conditional models can instead fix z and sweep the class (one column per class). Translation models have no
latent to walk: their "walk" is one input translated by every epoch checkpoint, how the model learned.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import GanforgeError
from .kinds import is_conditional
from .rng import Stream, seeded

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
    return recipe.sample_inputs(1, seeded(seed, Stream.SAMPLE))["z"][0].flatten()


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
    shape = recipe.latent_shape
    inputs: dict[str, torch.Tensor] = {"z": latents.view(len(latents), *shape)}
    if is_conditional(recipe):
        if label is None:
            raise GanforgeError(f"{recipe.cfg.recipe} is class-conditional: give --class K to fix the class")
        inputs["y"] = torch.full((len(latents),), label, dtype=torch.long)
    return recipe.generate(inputs)


def write_video(frames: torch.Tensor, path: Path, fps: int, scale: int | None = None) -> None:
    """(N, C, H, W) in [-1, 1] -> a looping GIF (Pillow) or an MP4 (imageio + imageio-ffmpeg), each frame
    enlarged ``scale`` times with nearest neighbour (None: to at least DISPLAY_FRAME px a side; 1: native)."""
    from .data.images import DISPLAY_FRAME, check_scale, display_scale, to_pil, upscale

    if fps < 1:
        raise GanforgeError(f"--fps must be >= 1; got {fps}")
    from .files import atomic_path, atomic_write

    h, w = frames.shape[-2:]
    check_scale(scale, h, w)
    factor = display_scale(min(h, w), DISPLAY_FRAME, extent=max(h, w)) if scale is None else scale
    images = [to_pil(upscale(f.float().cpu().clamp(-1, 1).add(1).div(2), factor)) for f in frames]
    suffix = path.suffix.lower()
    if suffix == ".gif":
        atomic_write(path, lambda f: images[0].save(f, format="GIF", save_all=True, append_images=images[1:],
                                                     duration=round(1000 / fps), loop=0))
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
        with atomic_path(path) as tmp, imageio.get_writer(tmp, fps=fps, codec="libx264", quality=8,
                                                          macro_block_size=1) as writer:
            for a in arr:
                writer.append_data(np.pad(a, ((0, ph), (0, pw), (0, 0)), mode="edge"))
        return
    raise GanforgeError(f"--video {str(path)!r}: write a .gif or an .mp4")


def write_note(path: Path, caption: str, **facts: Any) -> Path:
    """``NAME.EXT.json`` beside a strip or video: what it shows (``caption``, the report's label) and how it was
    made (seeds, mode, ...)."""
    import json

    from .files import atomic_write
    from .report import note_path

    return atomic_write(note_path(path), json.dumps({"caption": caption, **facts}, ensure_ascii=False, indent=1))


def class_sweep(recipe: Any, seeds: list[int]) -> tuple[torch.Tensor, int]:
    """One row per seed (z fixed), one column per class: (rows * K images, K)."""
    names = recipe.data.class_names
    if not is_conditional(recipe) or not names:
        raise GanforgeError(f"--vary class needs a class-conditional model; {recipe.cfg.recipe} is unconditional")
    k = len(names)
    z = torch.stack([_latent(recipe, s) for s in seeds]).repeat_interleave(k, 0)
    shape = recipe.latent_shape
    y = torch.arange(k).repeat(len(seeds))
    return recipe.generate({"z": z.view(len(z), *shape), "y": y}), k


def across_checkpoints(run_dir: Path, image: Path, direction: str | None, device: str) -> torch.Tensor:
    """The input, then its translation by each epoch checkpoint of ``run_dir`` in order: (1 + E, C, H, W)."""
    from PIL import Image

    from .sampling import load_recipe
    from .translation import image_to_tensor, translate_image

    if not run_dir.is_dir():
        raise GanforgeError(f"{str(run_dir)!r}: the evolution of a translation model needs its run directory")
    ckpts = sorted((run_dir / "checkpoints").glob("epoch_*.pt"))
    if not ckpts:
        raise GanforgeError(f"no epoch checkpoints in {run_dir / 'checkpoints'} (keep them with train.keep_checkpoints=0)")
    if not image.is_file():
        raise GanforgeError(f"--input {str(image)!r} is not an image file")
    from .data.images import UNREADABLE

    try:
        img = Image.open(image)
        img.load()
    except UNREADABLE as e:
        raise GanforgeError(f"--input {str(image)!r} cannot be read as an image ({type(e).__name__})") from None
    with img:
        frames = []
        for c in ckpts:
            recipe, _ = load_recipe(c, device)
            d = direction or recipe.directions[0]
            torch.manual_seed(0)  # the same test-time dropout for every checkpoint
            frames.append(image_to_tensor(translate_image(recipe, img, d, "resize"), recipe.data.channels))
        first = image_to_tensor(img, frames[0].shape[1])
    return torch.cat([first, *frames])
