"""Image files in and out, with Pillow and torch only (torchvision is not a dependency).

Decoding converts every mode (grayscale, palette, RGBA, 16-bit, float) to the configured channel count;
``fit_square`` is the seeds' ``Resize(size)`` + ``CenterCrop(size)`` (or a stretch to size x size, as
pix2pix's ``--preprocess resize_and_crop`` does); ``make_grid`` and ``save_image`` write sample grids.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def list_images(root: Path) -> list[Path]:
    """All image files under ``root``, recursively, in a stable (sorted) order."""
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out.extend(Path(dirpath) / f for f in sorted(filenames) if is_image(Path(f)))
    return out


def folder_mode(folder: Path) -> str:
    """'gray' or 'colour': the kind of the first readable image under ``folder`` ('' when none)."""
    for f in list_images(folder)[:8]:
        try:
            with Image.open(f) as img:
                return "gray" if img.mode in ("L", "LA", "1", "I", "I;16", "F") else "colour"
        except (OSError, ValueError, SyntaxError):
            continue
    return ""


def to_mode(img: Image.Image, channels: int) -> Image.Image:
    """Convert any Pillow mode to 'L' (channels=1) or 'RGB' (channels=3).

    16-bit and float images are rescaled, not clipped; transparent pixels are composited on white.
    """
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
        if img.mode == "F" and a.max() <= 1.0:
            top = 1.0
        img = Image.fromarray(np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P" or img.mode == "LA" or img.mode == "PA":
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    if channels == 1:
        return img.convert("L")
    return img.convert("RGB")


def fit_square(img: Image.Image, size: int, mode: str) -> Image.Image:
    """Resize to ``size`` x ``size``: 'shorter' (shorter side to size, then centre crop), 'stretch'."""
    w, h = img.size
    if mode == "stretch":
        return img if (w, h) == (size, size) else img.resize((size, size), Image.BICUBIC)
    if mode == "shorter":
        if min(w, h) != size:
            scale = size / min(w, h)
            w, h = max(size, round(w * scale)), max(size, round(h * scale))
            img = img.resize((w, h), Image.BICUBIC)
        left, top = (w - size) // 2, (h - size) // 2
        return img.crop((left, top, left + size, top + size)) if (w, h) != (size, size) else img
    return img  # 'none': the caller checks sizes


def prepare(img: Image.Image, channels: int, size: int, mode: str) -> np.ndarray:
    """A Pillow image -> writable uint8 array (H, W, C): channel conversion, then resize/crop."""
    arr = np.array(fit_square(to_mode(img, channels), size, mode), dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


def decode(path: Path, channels: int, size: int, mode: str) -> np.ndarray:
    """One file -> uint8 array (H, W, C). Raises OSError/ValueError for corrupt or truncated files."""
    with Image.open(path) as img:
        img.load()  # forces a full decode: truncated files fail here, not later
        return prepare(img, channels, size, mode)


def array_to_square(arr: np.ndarray, channels: int, size: int, mode: str) -> np.ndarray:
    """In-memory uint8 images (N, H, W[, C]) -> (N, size, size, channels), same rules as files."""
    if arr.ndim == 3:
        arr = arr[..., None]
    n, h, w, c = arr.shape
    if c == channels and (mode == "none" or (h, w) == (size, size)):
        return np.ascontiguousarray(arr)
    out = np.empty((n, size, size, channels) if mode != "none" else (n, h, w, channels), np.uint8)
    for i in range(n):
        out[i] = prepare(Image.fromarray(arr[i, :, :, 0] if c == 1 else arr[i]), channels, size, mode)
    return out


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (C, H', W') in [0, 1], ``nrow`` images per row (default: square-ish)."""
    images = images.detach().float().cpu().clamp(-1, 1).add(1).div(2)
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = torch.full((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), pad_value)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, y : y + h, x : x + w] = images[i]
    return grid


def to_pil(image: torch.Tensor) -> Image.Image:
    """(C, H, W) float in [0, 1] -> a Pillow image (L or RGB)."""
    arr = (image.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)


def save_image(image: torch.Tensor, path: str | Path) -> None:
    """Write (C, H, W) in [0, 1] as PNG atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    to_pil(image).save(tmp, format="PNG")
    os.replace(tmp, path)


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None) -> None:
    save_image(make_grid(images, nrow=nrow), path)


def save_each(images: torch.Tensor, folder: str | Path, names: Sequence[str]) -> list[Path]:
    """One PNG per image of (N, C, H, W) in [-1, 1]."""
    folder = Path(folder)
    paths = []
    for img, name in zip(images.detach().float().cpu().clamp(-1, 1).add(1).div(2), names):
        p = folder / name
        save_image(img, p)
        paths.append(p)
    return paths
