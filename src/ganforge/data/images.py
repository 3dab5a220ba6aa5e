"""Image files in and out, with Pillow and torch only (torchvision is not a dependency).

Decoding converts every mode (grayscale, palette, RGBA, 16-bit, float) to the configured channel count;
``fit_square`` is the seeds' ``Resize(size)`` + ``CenterCrop(size)`` (or a stretch to size x size, as
pix2pix's ``--preprocess resize_and_crop`` does); ``make_grid`` and ``save_image`` write sample grids.

Pictures written for people (sample grids, interpolation strips, GIF/MP4 frames) are enlarged by an integer
factor with nearest neighbour (:func:`display_scale`): a grid cell to at least 64 px, a video frame to at least
128 px, so that 32 px samples are not a thumbnail. Files that are data (``sample --out DIR/``, one PNG per image,
and everything evaluation reads) keep their exact pixels.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
# What Pillow raises for a file it cannot decode: corrupt, truncated, unreadable, or a decompression bomb (more
# than 2 x Image.MAX_IMAGE_PIXELS pixels, about 179 million, e.g. a 30000 x 30000 PNG). Such files are skipped
# with a warning that counts them; they never stop a run unless no image is left.
UNREADABLE: tuple[type[BaseException], ...] = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def list_images(root: Path) -> list[Path]:
    """All image files under ``root``, recursively (symbolic links followed), in a stable (sorted) order.

    Each real folder and file is listed once, however many links lead to it (a link to a parent folder would
    otherwise repeat the tree forever); hidden entries are ignored. Entries that cannot be read (a dangling
    link, a folder without permission) are skipped with one warning that counts them."""
    out: list[Path] = []
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    problems: list[str] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            problems.append(f"{folder} ({e.strerror or type(e).__name__})")
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        subdirs = []
        for e in entries:
            if e.name.startswith("."):
                continue
            try:
                is_dir = e.is_dir()  # follows links
            except OSError:
                is_dir = False
            if is_dir:
                subdirs.append(Path(e.path))
                continue
            if not is_image(Path(e.name)):
                continue
            try:
                fst = e.stat()  # follows links: a dangling one fails here
            except OSError as exc:
                problems.append(f"{e.path} ({'dangling link' if e.is_symlink() else exc.strerror})")
                continue
            if (fst.st_dev, fst.st_ino) not in seen_files:
                seen_files.add((fst.st_dev, fst.st_ino))
                out.append(Path(e.path))
        stack.extend(reversed(subdirs))  # depth first, sub-folders in name order
    if problems:
        warnings.warn(f"skipped {len(problems)} unreadable entr{'y' if len(problems) == 1 else 'ies'} under {root} "
                      f"(first: {problems[0]})", stacklevel=2)
    return out


def folder_mode(folder: Path) -> str:
    """'gray' or 'colour': the kind of the first readable image under ``folder`` ('' when none)."""
    for f in list_images(folder)[:8]:
        try:
            with Image.open(f) as img:
                return "gray" if img.mode in ("L", "LA", "1", "I", "I;16", "F") else "colour"
        except UNREADABLE:
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
    """One file -> uint8 array (H, W, C). Raises one of :data:`UNREADABLE` for corrupt or truncated files."""
    return decode_sized(path, channels, size, mode)[0]


def decode_sized(path: Path, channels: int, size: int, mode: str) -> tuple[np.ndarray, tuple[int, int]]:
    """:func:`decode`, and the file's own (width, height)."""
    with Image.open(path) as img:
        img.load()  # forces a full decode: truncated files fail here, not later
        return prepare(img, channels, size, mode), img.size


UPSCALE_WARN = 4  # images this many times smaller than the size they are resized to are counted in a warning


def warn_upscaled(sizes: Sequence[tuple[Path, tuple[int, int]]], size: int, of: str) -> None:
    """One warning counting the images that are resized up by UPSCALE_WARN times or more (a 1x1 or 8x8 image
    stretched to a 32-pixel crop is seldom what a user meant)."""
    small = [(p, wh) for p, wh in sizes if min(wh) * UPSCALE_WARN <= size]
    if small:
        p, (w, h) = min(small, key=lambda s: min(s[1]))
        warnings.warn(f"{len(small)} of {of} are upscaled {UPSCALE_WARN}x or more to {size} px (smallest: {p}, {w}x{h}); "
                      f"check data.image_size / data.load_size", stacklevel=2)


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


DISPLAY_CELL = 64  # px: the shorter side of a grid cell shown to people is enlarged to at least this
DISPLAY_FRAME = 128  # px: the same for a video frame
DISPLAY_MAX = 4096  # px: ... unless the whole picture's longer side would pass this
MAX_SCALE_SIDE = 16384  # px: the longest side an explicit --scale may make


def display_scale(side: int, minimum: int = DISPLAY_CELL, extent: int = 0) -> int:
    """The integer nearest-neighbour factor for showing images of ``side`` px (a cell's shorter side) to people:
    the smallest that makes them at least ``minimum`` px (1 when they already are), lowered, never below 1, so
    that ``extent`` (the whole picture's longer side at native size) stays within :data:`DISPLAY_MAX` px.
    32 px cells: 2; 28 px (MNIST): 3; 16 px: 4; 64 px and more: 1."""
    factor = max(1, -(-minimum // max(1, side)))
    if extent > 0:
        factor = max(1, min(factor, DISPLAY_MAX // extent))
    return factor


def upscale(images: torch.Tensor, factor: int) -> torch.Tensor:
    """(..., H, W) -> (..., H * factor, W * factor): every pixel repeated (nearest neighbour)."""
    if factor == 1:
        return images
    return images.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def check_scale(scale: int | None, height: int, width: int, what: str = "--scale") -> None:
    """An explicit scale: an integer >= 1 that keeps the picture within MAX_SCALE_SIDE px a side."""
    from ..errors import GanforgeError

    if scale is None:
        return
    if scale < 1:
        raise GanforgeError(f"{what} must be >= 1 (1: native size); got {scale}")
    if max(height, width) * scale > MAX_SCALE_SIDE:
        raise GanforgeError(f"{what} {scale} would make a {width * scale}x{height * scale} px picture; at most "
                            f"{MAX_SCALE_SIDE} px a side")


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0,
              scale: int | None = 1) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (C, H', W') in [0, 1], ``nrow`` images per row (default: square-ish).

    ``scale``: the whole grid (padding included) enlarged that many times with nearest neighbour; None: the
    :func:`display_scale` of its cells (a grid for people); 1 (the default): native size."""
    images = images.detach().float().cpu().clamp(-1, 1).add(1).div(2)
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = torch.full((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), pad_value)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, y : y + h, x : x + w] = images[i]
    check_scale(scale, grid.shape[1], grid.shape[2])
    return upscale(grid, display_scale(min(h, w), extent=max(grid.shape[1:])) if scale is None else scale)


def to_pil(image: torch.Tensor) -> Image.Image:
    """(C, H, W) float in [0, 1] -> a Pillow image (L or RGB)."""
    arr = (image.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)


def save_image(image: torch.Tensor, path: str | Path) -> None:
    """Write (C, H, W) in [0, 1] as PNG atomically (a reader never sees half a file)."""
    from ..files import atomic_write

    pil = to_pil(image)
    atomic_write(path, lambda f: pil.save(f, format="PNG"))


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, scale: int | None = None) -> None:
    """A grid for people as PNG: enlarged by ``scale`` (None: :func:`display_scale`; 1: native size)."""
    save_image(make_grid(images, nrow=nrow, scale=scale), path)


def save_each(images: torch.Tensor, folder: str | Path, names: Sequence[str]) -> list[Path]:
    """One PNG per image of (N, C, H, W) in [-1, 1]."""
    folder = Path(folder)
    paths = []
    for img, name in zip(images.detach().float().cpu().clamp(-1, 1).add(1).div(2), names):
        p = folder / name
        save_image(img, p)
        paths.append(p)
    return paths
