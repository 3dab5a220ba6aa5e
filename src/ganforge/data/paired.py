"""Paired data for image-to-image translation (pix2pix, Isola et al. 2017): (input, target) image pairs.

How pairs are made (``data.pairs``):
  aligned   one image holds A | B side by side (the pix2pix dataset format), split at the middle of its width
  folders   two folders ``A/`` and ``B/`` whose files match by name (``PATH/A``, or per split ``PATH/SPLIT/A``
            or ``PATH/A/SPLIT``)
  colorize  any image folder (or ``builtin:NAME``): A is the grayscale of B (line-art colouring in spirit)
  edges     any image folder (or ``builtin:NAME``): A is an edge map of B, black lines on white
  auto      folders when ``A/`` and ``B/`` exist, else aligned
``data.direction`` AtoB makes A the input and B the target; BtoA the reverse. The input has
``data.input_channels`` channels (0 = ``data.channels``), the target ``data.channels``.

Each pair is decoded into ONE uint8 array: the input's channels followed by the target's. The loader crops
and flips that array per batch, so A and B always get the same crop and flip (pix2pix's jitter: resize to
``load_size`` = 286, random crop ``image_size`` = 256, random flip). Halves or images that are not square
are resized to square (``data.resize=stretch``, as the reference's resize_and_crop) or centre-cropped
(``shorter``).

Splits: training reads ``data.split`` (``train/``; a folder without split folders is used whole, minus any
``val/`` and ``test/`` in it). Validation reads ``data.val_split``: ``auto`` = ``val/``, else ``test/``, else
the last 10% of the training pairs in name order (at most 100), which are then held out of training; ``none``
= no validation; or a split name. Test images are never trained on.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from ..config import DataConfig
from ..errors import GanforgeError
from .images import UNREADABLE, fit_square, list_images, to_mode
from .sources import Source, _stat_key, fetched_or_folder

PAIRINGS = ("auto", "aligned", "folders", "colorize", "edges")
FETCHED = ("facades", "cityscapes", "maps", "edges2shoes", "night2day")  # bare names read data_dir(NAME)
VAL_SPLITS = ("val", "test")
HOLDOUT_FRACTION, HOLDOUT_MAX = 0.1, 100


def input_channels(cfg: DataConfig) -> int:
    return cfg.input_channels or cfg.channels


# --------------------------------------------------------------------------------------------------
# One pair -> one uint8 array (L, L, C_in + C_out)


def _square(img: Image.Image, channels: int, cfg: DataConfig) -> np.ndarray:
    arr = np.array(fit_square(to_mode(img, channels), cfg.resolved_load_size, cfg.resize), dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


def edge_map(img: Image.Image) -> Image.Image:
    """Black edges on white: Sobel gradient magnitude of the blurred grayscale, thresholded.

    Written by hand (a few lines of numpy) so that no OpenCV is needed; the threshold keeps the strongest
    ~12% of gradients, and none in flat images.
    """
    g = np.asarray(img.convert("L").filter(ImageFilter.GaussianBlur(1.0)), dtype=np.float32)
    p = np.pad(g, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    mag = np.hypot(gx, gy)
    edges = mag > max(np.percentile(mag, 88), 40.0)
    return Image.fromarray(np.where(edges, 0, 255).astype(np.uint8), "L")


def _derive(b: Image.Image, mode: str, cfg: DataConfig) -> tuple[Image.Image, Image.Image]:
    """(A, B) of a derived pairing from the target image B; A is computed at load size, after resizing."""
    b = fit_square(to_mode(b, cfg.channels), cfg.resolved_load_size, cfg.resize)
    a = b.convert("L") if mode == "colorize" else edge_map(b)
    return a, b


def _join(a: Image.Image, b: Image.Image, cfg: DataConfig) -> np.ndarray:
    """A, B -> (input | target) channels, in the configured direction."""
    src, dst = (a, b) if cfg.direction == "AtoB" else (b, a)
    return np.concatenate([_square(src, input_channels(cfg), cfg), _square(dst, cfg.channels, cfg)], axis=2)


def decode_pair(item: Any, cfg: DataConfig, mode: str) -> np.ndarray:
    """One item (a file, or an (A file, B file) tuple) -> uint8 (L, L, C_in + C_out)."""
    if mode == "folders":
        with Image.open(item[0]) as a, Image.open(item[1]) as b:
            a.load()
            b.load()
            return _join(a, b, cfg)
    with Image.open(item) as img:
        img.load()
        if mode == "aligned":
            w, h = img.size
            rgb = img.convert("RGB") if img.mode not in ("L", "RGB") else img
            return _join(rgb.crop((0, 0, w // 2, h)), rgb.crop((w // 2, 0, w, h)), cfg)
        return _join(*_derive(img, mode, cfg), cfg)


class PairDecoder:
    """Picklable ``Source.decode_item`` (DataLoader workers receive it)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __call__(self, item: Any, cfg: DataConfig) -> np.ndarray:
        return decode_pair(item, cfg, self.mode)


# --------------------------------------------------------------------------------------------------
# Finding the pairs


def _root(spec: str) -> Path:
    return fetched_or_folder(spec, FETCHED, "a folder of pairs")


def _ab_dirs(root: Path, split: str) -> tuple[Path, Path] | None:
    for a, b in ((root / split / "A", root / split / "B"), (root / "A" / split, root / "B" / split)):
        if a.is_dir() and b.is_dir():
            return a, b
    return None


def resolve_mode(root: Path, cfg: DataConfig) -> str:
    if cfg.pairs != "auto":
        return cfg.pairs
    if (root / "A").is_dir() and (root / "B").is_dir() or any(
            _ab_dirs(root, s) for s in (cfg.split, *VAL_SPLITS)):
        return "folders"
    return "aligned"


def _match(a_dir: Path, b_dir: Path) -> list[tuple[Path, Path]]:
    """A and B files paired by relative name without suffix; any mismatch is an error listing a few."""
    def index(d: Path) -> dict[str, Path]:
        return {str(f.relative_to(d).with_suffix("")): f for f in list_images(d)}

    a, b = index(a_dir), index(b_dir)
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        parts = [f"only in {d}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''} ({len(names)})"
                 for d, names in ((a_dir, only_a), (b_dir, only_b)) if names]
        raise GanforgeError(f"A/ and B/ file names do not match: {'; '.join(parts)}")
    if not a:
        raise GanforgeError(f"no images in {a_dir} and {b_dir}")
    return [(a[k], b[k]) for k in sorted(a)]


def _split_items(root: Path, split: str, mode: str, whole: bool) -> list[Any] | None:
    """Items of one split, or None when the split does not exist. ``whole``: fall back to the root folder
    (minus its val/test folders) when there is no split folder."""
    if mode == "folders":
        dirs = _ab_dirs(root, split) or ((root / "A", root / "B") if whole and (root / "A").is_dir() else None)
        return _match(*dirs) if dirs else None
    if (root / split).is_dir():
        return list_images(root / split)
    if not whole:
        return None
    return [f for f in list_images(root) if f.relative_to(root).parts[0] not in VAL_SPLITS]


def _check_headers(items: list[Any], mode: str, cfg: DataConfig, warn: bool) -> None:
    """Read image headers only: odd-width aligned pairs are errors, non-square halves a warning, and with
    data.resize=none every image must be at least the crop size."""
    odd: list[str] = []
    non_square, first_ns = 0, ""
    for item in items:
        path = item[0] if isinstance(item, tuple) else item
        try:
            with Image.open(path) as img:
                w, h = img.size
        except UNREADABLE:
            continue  # unreadable files are skipped with a warning when decoded
        if mode == "aligned":
            if w % 2:
                odd.append(f"{path} ({w}x{h})")
            w //= 2
        if cfg.resize == "none" and min(w, h) < cfg.image_size:
            raise GanforgeError(f"{path} is {w}x{h}{' per half' if mode == 'aligned' else ''}, smaller than the crop "
                                f"data.image_size={cfg.image_size}; set data.resize=stretch or a smaller image_size")
        if mode == "aligned" and w != h:
            non_square += 1
            first_ns = first_ns or f"{path} is {2 * w}x{h}"
    if odd:
        raise GanforgeError(f"aligned A|B image {odd[0]} has an odd width; each pair must be two halves of equal "
                            f"width ({len(odd)} such file(s))")
    if non_square and warn:
        how = "resized to square" if cfg.resize == "stretch" else "centre-cropped to square"
        warnings.warn(f"{non_square} aligned pair(s) have non-square halves (first: {first_ns}); each half is split "
                      f"at the middle and {how} at {cfg.resolved_load_size}x{cfg.resolved_load_size}", stacklevel=3)


def split_items(cfg: DataConfig, part: str) -> tuple[list[Any], str, str]:
    """(items, where they came from, pairing mode) of ``part`` = train or val, after the holdout rule."""
    root = _root(cfg.source.strip())
    mode = resolve_mode(root, cfg)
    if mode not in PAIRINGS[1:]:
        raise GanforgeError(f"data.pairs {mode!r}; choices: {', '.join(PAIRINGS)}")
    train = _split_items(root, cfg.split, mode, whole=True)
    if not train:
        raise GanforgeError(f"no {'A/B folders' if mode == 'folders' else 'images'} for split {cfg.split!r} in {root}")
    val, val_name = None, ""
    if cfg.val_split == "auto":
        for s in VAL_SPLITS:
            if s != cfg.split and (val := _split_items(root, s, mode, whole=False)):
                val_name = s
                break
        if val is None and len(train) >= 2:  # hold out the last pairs in name order
            k = min(HOLDOUT_MAX, max(1, round(len(train) * HOLDOUT_FRACTION)))
            train, val, val_name = train[:-k], train[-k:], f"held out: last {k} of {cfg.split}"
    elif cfg.val_split != "none":
        val, val_name = _split_items(root, cfg.val_split, mode, whole=False), cfg.val_split
        if not val:
            raise GanforgeError(f"data.val_split {cfg.val_split!r} does not exist in {root}; use auto, none or a "
                                f"split folder name")
    if part == "train":
        return train, f"{root} [{cfg.split}]", mode
    return val or [], f"{root} [{val_name}]", mode


# --------------------------------------------------------------------------------------------------
# Sources


def _builtin_pairs(cfg: DataConfig, part: str) -> Source:
    from .builtin import BUILTIN_DATA

    mode = cfg.pairs if cfg.pairs in ("colorize", "edges") else ""
    if not mode:
        raise GanforgeError(f"data.pairs={cfg.pairs} needs pair files; builtin data gives pairs with data.pairs=colorize "
                            f"or edges")
    name = cfg.source.split(":", 1)[1]
    n, seed = (cfg.generated(), cfg.builtin_seed) if part == "train" else (cfg.limit or 64, cfg.builtin_seed + 7919)
    images = BUILTIN_DATA.get(name)(n=n, size=cfg.resolved_load_size, seed=seed).images
    arr = np.stack([_join(*_derive(Image.fromarray(im), mode, cfg), cfg) for im in images])
    return Source(f"builtin:{name} {mode} pairs ({n}, seed {seed})", f"builtin|pairs|{name}|{n}|{seed}", array=arr,
                  channels=arr.shape[-1], input_channels=input_channels(cfg))


def has_validation(cfg: DataConfig) -> bool:
    """Whether ``data.val_split`` finds validation pairs (an explicit split that is missing is an error)."""
    if cfg.val_split == "none":
        return False
    return cfg.source.strip().startswith("builtin:") or bool(split_items(cfg, "val")[0])


def open_pairs(cfg: DataConfig, part: str = "train") -> Source:
    """The pairs of ``part`` (train or val) as a :class:`Source` whose items decode to input|target arrays."""
    if cfg.source.strip().startswith("builtin:"):
        return _builtin_pairs(cfg, part)
    items, where, mode = split_items(cfg, part)
    if not items:
        raise GanforgeError(f"no {part} pairs in {where}")
    _check_headers(items, mode, cfg, warn=part == "train")
    files = [p for it in items for p in (it if isinstance(it, tuple) else (it,))]
    key = f"pairs|{mode}|{cfg.direction}|{input_channels(cfg)}|{_stat_key(files)}"
    return Source(f"{mode} pairs {where} ({len(items)} pairs, {cfg.direction})", key, files=items,
                  decode_item=PairDecoder(mode), channels=input_channels(cfg) + cfg.channels,
                  input_channels=input_channels(cfg))


def val_config(cfg: DataConfig, n: int) -> DataConfig:
    """The data settings of validation: the whole image resized to the crop size, no jitter, ``n`` pairs."""
    return replace(cfg, load_size=0, crop="center", flip=False, limit=n)
