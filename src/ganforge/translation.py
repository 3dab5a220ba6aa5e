"""``ganforge translate``: run a trained translation model (pix2pix, CycleGAN) over image files of any size.

Each image is converted to the model's input channels and either resized to the training size (``fit =
resize``, the default: what the network saw in training) or reflect-padded up to the next size the network
accepts (``fit = pad``: full resolution, for fully convolutional models); the output is restored to the
input's size and written under the same relative path and file name. ``aligned`` inputs are A|B pairs (the
pix2pix dataset format): the half that the direction names is translated.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .data.images import UNREADABLE, is_image, list_images, to_mode
from .errors import GanforgeError
from .files import atomic_write, ensure_writable_dir
from .kinds import as_translator
from .sampling import load_recipe

FITS = ("resize", "pad")


def _inputs(path: Path) -> tuple[list[Path], Path]:
    """The image files to translate and the folder their output paths are relative to."""
    if path.is_file():
        if not is_image(path):
            raise GanforgeError(f"--input {str(path)!r} is not an image file (jpg, png, bmp, webp, tif)")
        return [path], path.parent
    if not path.is_dir():
        raise GanforgeError(f"--input {str(path)!r} does not exist")
    files = list_images(path)
    if not files:
        raise GanforgeError(f"no images (jpg, png, bmp, webp, tif) in {str(path)!r}")
    return files, path


def image_to_tensor(img: Image.Image, channels: int) -> torch.Tensor:
    arr = np.asarray(to_mode(img, channels), dtype=np.float32)
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return torch.from_numpy(arr).permute(2, 0, 1)[None].div(127.5).sub(1.0)


def _to_image(x: torch.Tensor) -> Image.Image:
    arr = (x[0].clamp(-1, 1).add(1).mul(127.5) + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)


def translate_tensor(recipe: Any, x: torch.Tensor, direction: str, fit: str) -> torch.Tensor:
    """Images (N, C_in, H, W) in [-1, 1] -> their translations (N, C_out, H, W) on the CPU, at the input's size."""
    h, w = x.shape[-2:]
    if fit == "resize":
        s = recipe.data.image_size
        y = recipe.translate(F.interpolate(x, size=(s, s), mode="bicubic", align_corners=False).clamp(-1, 1), direction)
        return F.interpolate(y.float().cpu(), size=(h, w), mode="bicubic", align_corners=False).clamp(-1, 1)
    # pad (reflect where possible) to a multiple of what the network needs, translate, crop back
    m = recipe.size_multiple
    ph, pw = -h % m, -w % m
    mode = "reflect" if ph < h and pw < w else "replicate"
    return recipe.translate(F.pad(x, (0, pw, 0, ph), mode=mode), direction)[:, :, :h, :w].float().cpu().clamp(-1, 1)


def translate_image(recipe: Any, img: Image.Image, direction: str, fit: str) -> Image.Image:
    """One Pillow image -> its translation, at the input's size."""
    return _to_image(translate_tensor(recipe, image_to_tensor(img, recipe.input_channels(direction)), direction, fit))


def translate_files(source: str, input_path: str, out: str, direction: str | None = None, fit: str = "resize",
                    aligned: bool = False, dropout: bool | None = None, seed: int = 0, device: str = "cpu",
                    progress: bool = True) -> tuple[list[Path], str]:
    """Translate every image under ``input_path`` into ``out``; returns (written files, direction used)."""
    if fit not in FITS:
        raise GanforgeError(f"--fit {fit!r}; choices: {', '.join(FITS)}")
    files, root = _inputs(Path(input_path))
    recipe, _ = load_recipe(source, device)
    as_translator(recipe, source)
    if dropout is not None and hasattr(recipe.cfg.model, "test_dropout"):
        recipe.cfg = dataclasses.replace(recipe.cfg, model=dataclasses.replace(recipe.cfg.model, test_dropout=dropout))
    direction = direction or recipe.directions[0]
    if direction not in recipe.directions:
        raise GanforgeError(f"--direction {direction}: this {recipe.cfg.recipe} model was trained to translate "
                            f"{' and '.join(recipe.directions)} only")
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise GanforgeError(f"--out {out!r} is a file; give a folder")
    torch.manual_seed(seed)  # test-time dropout draws from it
    bar = None
    if progress:
        from .progress import bar as progress_bar

        bar = progress_bar(len(files), unit="image", desc="translate")
    ensure_writable_dir(out_dir, "--out folder")
    written: list[Path] = []
    skipped: list[str] = []
    try:
        for f in files:
            try:
                with Image.open(f) as img:
                    img.load()
                    if aligned:
                        w, h = img.size
                        if w % 2:
                            raise GanforgeError(f"--aligned: {f} is {w} pixels wide; an A|B image has two halves of "
                                                f"equal width")
                        img = img.crop((0, 0, w // 2, h) if direction == "AtoB" else (w // 2, 0, w, h))
                    result = translate_image(recipe, img, direction, fit)
            except UNREADABLE as e:  # corrupt, truncated, a decompression bomb: skipped, counted below
                skipped.append(f"{f} ({type(e).__name__})")
                continue
            finally:
                if bar is not None:
                    bar.update(1)
            dest = out_dir / f.relative_to(root)
            fmt = Image.registered_extensions().get(dest.suffix.lower(), "PNG")
            opts = {"quality": 95} if fmt == "JPEG" else {}
            atomic_write(dest, lambda fh, img=result, fmt=fmt, opts=opts: img.save(fh, format=fmt, **opts))
            written.append(dest)
    finally:
        if bar is not None:
            bar.close()
    if skipped:
        warnings.warn(f"skipped {len(skipped)} of {len(files)} input image(s) that cannot be read (first: {skipped[0]})",
                      stacklevel=2)
    if not written:
        raise GanforgeError(f"none of the {len(files)} input image(s) under {input_path} could be read; nothing was "
                            f"translated")
    return written, direction

