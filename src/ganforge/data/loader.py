"""From a :class:`Source` to batches on the training device.

Sets that fit in memory are decoded once into a uint8 tensor (N, C, L, L), cached on disk keyed by
source and preprocessing, and kept on the device; larger ones stream through a DataLoader with
workers. Either way the per-batch part (random or centre crop to ``image_size``, horizontal flip,
scaling to [-1, 1]) runs on the device with tensor ops.

Batch order and augmentation are functions of (seed, step) alone, so a resumed run sees exactly
the batches an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import DataConfig
from ..errors import GanforgeError
from ..paths import cache_dir, write_cache
from ..rng import Stream, seeded
from .images import UNREADABLE, array_to_square, decode, decode_sized, warn_upscaled
from .sources import Source, open_source

CACHE_VERSION = 1


@dataclass
class Batch:
    """What a recipe's ``train_step`` receives: images in [-1, 1] on the device, labels if any."""

    image: torch.Tensor  # (N, C, H, W) float; (N, D) for point data; the input of a translation pair
    label: torch.Tensor | None = None  # (N,) int64
    target: torch.Tensor | None = None  # (N, C', H, W): the target of a translation pair (same crop and flip)


@dataclass
class Draws:
    """Uniform [0, 1) draws of a run of images' augmentation: crop offsets (y, x) and flip, on the device."""

    uy: torch.Tensor
    ux: torch.Tensor
    flip: torch.Tensor

    @classmethod
    def make(cls, n: int, gen: torch.Generator, device: torch.device) -> Draws:
        u = torch.rand(3, n, generator=gen).to(device)
        return cls(u[0], u[1], u[2])

    @classmethod
    def none(cls) -> Draws:
        """No draws: for a centre crop without flips."""
        return cls(torch.empty(0), torch.empty(0), torch.empty(0))

    def __getitem__(self, s: slice) -> Draws:
        return Draws(self.uy[s], self.ux[s], self.flip[s])


def augment(images: torch.Tensor, cfg: DataConfig, draws: Draws | torch.Generator) -> torch.Tensor:
    """uint8 (N, C, L, L) -> float (N, C, S, S) in [-1, 1]: crop to S = image_size, optional flip. ``draws``
    are the N images' random draws (or a generator to make them from)."""
    n, _, h, w = images.shape
    s = cfg.image_size
    rand = (cfg.crop == "random" and (h, w) != (s, s)) or cfg.flip
    if isinstance(draws, torch.Generator):
        draws = Draws.make(n, draws, images.device) if rand else Draws.none()
    if (h, w) != (s, s):
        if cfg.crop == "random":
            oy = (draws.uy * (h - s + 1)).long().clamp_(max=h - s)
            ox = (draws.ux * (w - s + 1)).long().clamp_(max=w - s)
            ar = torch.arange(s, device=images.device)
            rows = (oy[:, None] + ar)[:, None, :, None]  # (N, 1, S, 1)
            cols = (ox[:, None] + ar)[:, None, None, :]  # (N, 1, 1, S)
            batch = torch.arange(n, device=images.device)[:, None, None, None]
            chan = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
            images = images[batch, chan, rows, cols]
        else:
            top, left = (h - s) // 2, (w - s) // 2
            images = images[:, :, top : top + s, left : left + s]
    if cfg.flip:
        mask = (draws.flip < 0.5)[:, None, None, None]
        images = torch.where(mask, images.flip(-1), images)
    return images.float().div_(127.5).sub_(1.0)


# --------------------------------------------------------------------------------------------------
# Decoding


def decode_files(src: Source, cfg: DataConfig, files: list[Any],
                 sizes: list[tuple[Path, tuple[int, int]]] | None = None) -> list[np.ndarray | None]:
    """``files`` of ``src`` decoded at the load size (threads: Pillow releases the GIL while decoding); None for an
    unreadable one. ``sizes`` collects the original (width, height) of the image files."""

    def one(p: Any) -> np.ndarray | None:
        try:
            if src.decode_item:
                return src.decode_item(p, cfg)
            arr, wh = decode_sized(p, cfg.channels, cfg.resolved_load_size, cfg.resize)
            if sizes is not None:
                sizes.append((p, wh))
            return arr
        except UNREADABLE:
            return None

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
        return list(pool.map(one, files, chunksize=64))


def _decode_files(src: Source, cfg: DataConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode every file once."""
    size, files = cfg.resolved_load_size, src.files or []
    sizes: list[tuple[Path, tuple[int, int]]] = []
    arrays = decode_files(src, cfg, files, sizes)
    warn_upscaled(sizes, size, f"the {len(files)} images")
    ok = [i for i, a in enumerate(arrays) if a is not None]
    bad = len(files) - len(ok)
    if not ok:
        raise GanforgeError(f"none of the {len(files)} images in {src.description} could be read (corrupt or truncated)")
    if bad:
        first = next(files[i] for i, a in enumerate(arrays) if a is None)
        warnings.warn(f"skipped {bad} unreadable image(s) of {len(files)} (first: {first})", stacklevel=2)
    shapes = {arrays[i].shape for i in ok}
    if len(shapes) > 1:
        a, b = sorted(shapes)[:2]
        fa = next(files[i] for i in ok if arrays[i].shape == a)
        fb = next(files[i] for i in ok if arrays[i].shape == b)
        raise GanforgeError(f"images have mixed sizes with data.resize=none: {fa} is {a[1]}x{a[0]}, {fb} is "
                            f"{b[1]}x{b[0]}; set data.resize=shorter or stretch")
    labels = src.labels[ok] if src.labels is not None else None
    return np.stack([arrays[i] for i in ok]), labels


def _cache_path(src: Source, cfg: DataConfig) -> Path:
    key = f"{CACHE_VERSION}|{src.key}|{cfg.channels}|{cfg.resolved_load_size}|{cfg.resize}"
    return cache_dir() / "decoded" / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".npz")


def decode_all(src: Source, cfg: DataConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """The whole source as uint8 (N, L, L, C) (+ labels), from the disk cache when possible."""
    path = _cache_path(src, cfg)
    if cfg.cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return z["images"], (z["labels"] if "labels" in z.files else None)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache entry is rebuilt below
    if src.array is not None and src.input_channels:  # built pairs are ready: input | target at load size
        arr, labels = src.array, src.labels
    elif src.array is not None:
        arr, labels = array_to_square(src.array, cfg.channels, cfg.resolved_load_size, cfg.resize), src.labels
    else:
        arr, labels = _decode_files(src, cfg)
    if cfg.cache and not src.key.startswith(("builtin|", "prepared|")):  # cheaper to regenerate / read again than to store
        arrays = {"images": arr, **({"labels": labels} if labels is not None else {})}
        write_cache(path, lambda f: np.savez(f, **arrays))
    return arr, labels


def _class_by_class(labels: np.ndarray | None, n: int) -> bool:
    """The source lists its images class by class (a class folder), so its first ``n`` would miss classes."""
    return labels is not None and n < len(labels) and len(np.unique(labels)) > 1 and bool((np.diff(labels) >= 0).all())


def limited(labels: np.ndarray | None, total: int, n: int) -> np.ndarray:
    """The indices ``data.limit=n`` keeps (and evaluate's ``--n`` of real images), in the source's order: the first
    ``n``, except where the source lists its images class by class (a class folder, whose first ``n`` would be its
    first classes only): then the first image of every class, then the second of every class, and so on."""
    if not _class_by_class(labels, n):
        return np.arange(min(n, total))
    assert labels is not None
    rank = np.arange(len(labels)) - np.searchsorted(labels, labels, side="left")  # position within its class
    return np.sort(np.lexsort((labels, rank))[:n])


# --------------------------------------------------------------------------------------------------
# Streams of batches


class StreamDataset(torch.utils.data.Dataset):
    """Files decoded (and resized to load_size) by DataLoader workers; unreadable files are replaced by
    the next readable one so that batches keep their size."""

    def __init__(self, src: Source, cfg: DataConfig) -> None:
        self.files, self.labels, self.cfg, self.decode_item = src.files or [], src.labels, cfg, src.decode_item

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        for k in range(len(self.files)):
            j = (i + k) % len(self.files)
            try:
                a = self.decode_item(self.files[j], self.cfg) if self.decode_item else \
                    decode(self.files[j], self.cfg.channels, self.cfg.resolved_load_size, self.cfg.resize)
            except UNREADABLE:
                warnings.warn(f"skipped unreadable image {self.files[j]}", stacklevel=2)
                continue
            label = int(self.labels[j]) if self.labels is not None else -1
            return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1), label
        raise GanforgeError("no readable image in the data set")


def _check_same_size(files: list[Path]) -> None:
    """Without resizing, streamed images must share one size: read the headers only, up front (an error
    raised inside a DataLoader worker would reach the user as a traceback)."""
    from PIL import Image

    first: tuple[Path, tuple[int, int]] | None = None
    for f in files:
        try:
            with Image.open(f) as img:
                size = img.size
        except UNREADABLE:
            continue  # unreadable files are skipped (with a warning) when they are decoded
        if first is None:
            first = (f, size)
        elif size != first[1]:
            raise GanforgeError(f"images have mixed sizes with data.resize=none: {first[0]} is {first[1][0]}x"
                                f"{first[1][1]}, {f} is {size[0]}x{size[1]}; set data.resize=shorter or stretch")


def _check_upscaled(files: list[Path], size: int, sample: int = 256) -> None:
    """A streamed set's upscaling warning, from the headers of its first ``sample`` files."""
    from PIL import Image

    sizes = []
    for f in files[:sample]:
        try:
            with Image.open(f) as img:
                sizes.append((f, img.size))
        except UNREADABLE:
            continue
    of = f"the first {len(files[:sample])} images" if len(files) > sample else f"the {len(files)} images"
    warn_upscaled(sizes, size, of)


def _worker_init(_: int) -> None:
    # Ctrl-C reaches the whole process group: workers ignore it and the trainer stops them cleanly.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Data:
    """An endless, resumable stream of :class:`Batch` for one run.

    ``batch_size`` is the global batch. Under torchrun, ``shard=(rank, world)`` makes this process's batches
    the rank-th slice of each global batch (``batch_size // world`` items): every rank computes the same
    epoch order and augmentation draws, so the ranks see disjoint parts of every epoch, and together exactly
    what one process with the global batch sees."""

    def __init__(self, cfg: DataConfig, batch_size: int, seed: int, device: torch.device, kind: str = "images",
                 part: str = "train", shard: tuple[int, int] = (0, 1)) -> None:
        """``kind`` pairs: translation pairs (``part`` train or val) from :mod:`ganforge.data.paired`."""
        self.cfg, self.batch_size, self.seed, self.device = cfg, batch_size, seed, device
        self.rank, self.world = shard
        if batch_size % self.world:
            raise GanforgeError(f"train.batch_size={batch_size} (the global batch) is not divisible by the "
                                f"{self.world} processes; use a multiple of {self.world}")
        self.local = batch_size // self.world  # this rank's part of each batch
        self._draws_epoch, self._draws = -1, Draws.none()
        if kind == "pairs":
            from .paired import open_pairs

            src = open_pairs(cfg, part)
        else:
            src = open_source(cfg)
        self.input_channels = src.input_channels  # > 0: batches are (input, target) pairs
        self.description = src.description
        self.key = src.key  # identifies the content (caches of decoded images and of metric features)
        self.class_names = src.class_names
        self.toy, self.points_dim = src.toy, 0
        n = len(src)
        if cfg.limit:
            n = min(n, cfg.limit)
        if src.points is not None:  # point data (2-D toys): a float tensor on the device, no augmentation
            self.points = torch.from_numpy(src.points[:n]).float().to(device)
            self.points_dim, self.n, self.in_memory = self.points.shape[1], len(self.points), True
            self.stream_reason = ""
            self.images = self.labels = None
            self._finish(batch_size)
            return
        est_mb = n * (src.channels or cfg.channels) * cfg.resolved_load_size**2 / 2**20
        # Sources that arrive as arrays (IDX, CIFAR batches, builtin) are in memory already.
        self.in_memory = src.array is not None or cfg.in_memory == "yes" or (
            cfg.in_memory == "auto" and est_mb <= cfg.in_memory_limit_mb)
        self.stream_reason = "data.in_memory=no" if cfg.in_memory == "no" else \
            f"{est_mb:,.0f} MB decoded, more than data.in_memory_limit_mb={cfg.in_memory_limit_mb:,}"
        self.images: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None
        if self.in_memory:
            arr, labels = decode_all(src, cfg)
            if cfg.limit:
                keep = limited(labels, len(arr), cfg.limit)
                arr, labels = arr[keep], (labels[keep] if labels is not None else None)
            # (N, L, L, C) -> (N, C, L, L), uint8, on the training device
            if min(arr.shape[1:3]) < cfg.image_size:
                raise GanforgeError(f"images of {src.description} are {arr.shape[2]}x{arr.shape[1]} after resizing, "
                                    f"smaller than the crop data.image_size={cfg.image_size}; set data.resize=shorter or "
                                    f"stretch, or a smaller image_size")
            self.images = torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous().to(device)
            self.labels = torch.from_numpy(labels).to(device) if labels is not None else None
            self.n = len(self.images)
        else:
            if cfg.limit:
                keep = limited(src.labels, len(src.files or []), cfg.limit)
                src.files = [(src.files or [])[i] for i in keep]
                src.labels = src.labels[keep] if src.labels is not None else None
            if cfg.resize == "none" and not src.decode_item:  # pairs check their headers when opened
                _check_same_size(src.files or [])
            elif not src.decode_item:
                _check_upscaled(src.files or [], cfg.resolved_load_size)
            self.dataset = StreamDataset(src, cfg)
            self.n = len(self.dataset)
        self._finish(batch_size)

    def _finish(self, batch_size: int) -> None:
        if self.n < batch_size:
            raise GanforgeError(f"the data set has {self.n} {'points' if self.points_dim else 'images'}, fewer than "
                                f"train.batch_size={batch_size}")
        self.steps_per_epoch = self.n // batch_size  # the last partial batch is dropped (BatchNorm)
        self._perm_epoch, self._perm = -1, torch.empty(0)

    @property
    def unit(self) -> str:
        return "points" if self.points_dim else "pairs" if self.input_channels else "images"

    @property
    def has_targets(self) -> bool:
        """Batches carry a target (translation pairs)."""
        return bool(self.input_channels)

    @property
    def has_labels(self) -> bool:
        return self.class_names is not None

    def _batch(self, x: torch.Tensor, y: torch.Tensor | None) -> Batch:
        ci = self.input_channels
        return Batch(x[:, :ci], target=x[:, ci:]) if ci else Batch(x, y)

    def ordered(self, batch_size: int, n: int = 0) -> Iterator[Batch]:
        """The first ``n`` (0: all) items in order, centre-cropped and never flipped: validation and previews."""
        cfg, gen = replace(self.cfg, crop="center", flip=False), torch.Generator()
        n = min(n or self.n, self.n)
        for start in range(0, n, batch_size):
            idx = torch.arange(start, min(n, start + batch_size))
            if self.in_memory:
                assert self.images is not None
                x = self.images[idx.to(self.images.device)]
                y = self.labels[idx.to(self.labels.device)] if self.labels is not None else None
            else:
                items = [self.dataset[i] for i in idx.tolist()]
                x = torch.stack([a for a, _ in items]).to(self.device)
                y = torch.tensor([b for _, b in items], device=self.device) if self.has_labels else None
            yield self._batch(augment(x, cfg, gen), y)

    def _order(self, epoch: int) -> torch.Tensor:
        if epoch != self._perm_epoch:
            self._perm = torch.randperm(self.n, generator=seeded(self.seed, epoch, Stream.ORDER))
            self._perm_epoch = epoch
        return self._perm

    def batches(self, start_step: int = 0) -> Iterator[Batch]:
        """Batches for steps ``start_step, start_step + 1, ...`` (forever)."""
        if self.points_dim:
            return self._point_batches(start_step)
        return self._memory_batches(start_step) if self.in_memory else self._stream_batches(start_step)

    def _rows(self, i: int) -> slice:
        """This rank's positions in the epoch's order for the epoch's i-th step."""
        start = i * self.batch_size + self.rank * self.local
        return slice(start, start + self.local)

    def _epoch_draws(self, epoch: int) -> Draws:
        """The augmentation draws of a whole epoch, made on the CPU and moved to the device once per epoch
        (no host-device copy per step)."""
        if epoch != self._draws_epoch:
            n = self.steps_per_epoch * self.batch_size
            self._draws = Draws.make(n, seeded(self.seed, epoch, Stream.AUGMENT), self.device)
            self._draws_epoch = epoch
        return self._draws

    def _point_batches(self, step: int) -> Iterator[Batch]:
        while True:
            epoch, i = divmod(step, self.steps_per_epoch)
            idx = self._order(epoch)[self._rows(i)].to(self.points.device)
            yield Batch(self.points[idx])
            step += 1

    def _memory_batches(self, step: int) -> Iterator[Batch]:
        assert self.images is not None
        order_epoch, order = -1, torch.empty(0)
        while True:
            epoch, i = divmod(step, self.steps_per_epoch)
            if epoch != order_epoch:  # the epoch's order on the device, once
                order, order_epoch = self._order(epoch).to(self.images.device), epoch
            rows = self._rows(i)
            idx = order[rows]
            x = augment(self.images[idx], self.cfg, self._epoch_draws(epoch)[rows])
            yield self._batch(x, self.labels[idx] if self.labels is not None else None)
            step += 1

    def _stream_batches(self, step: int) -> Iterator[Batch]:
        while True:
            epoch, first = divmod(step, self.steps_per_epoch)
            order = self._order(epoch)[: self.steps_per_epoch * self.batch_size].view(-1, self.batch_size)
            mine = order[:, self.rank * self.local : (self.rank + 1) * self.local]
            draws = self._epoch_draws(epoch)
            for x, y in self.raw_batches(mine[first:].tolist()):
                i = step - epoch * self.steps_per_epoch
                yield self._batch(augment(x, self.cfg, draws[self._rows(i)]), y)
                step += 1

    def raw_batches(self, chunks: list[list[int]]) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """The uint8 (B, C, L, L) items (and int64 labels, or None) of each list of indices, on the device, before
        any crop or flip: from memory, or decoded by DataLoader workers. The way to read a data set in an order of
        one's own (the evaluation classifier trains on it)."""
        if self.in_memory:
            assert self.images is not None
            for b in chunks:
                idx = torch.as_tensor(b, device=self.images.device)
                yield self.images[idx], (self.labels[idx] if self.labels is not None else None)
            return
        workers = self.cfg.workers
        loader = torch.utils.data.DataLoader(
            self.dataset, batch_sampler=[list(b) for b in chunks], num_workers=workers,
            pin_memory=self.device.type == "cuda", prefetch_factor=4 if workers else None,
            worker_init_fn=_worker_init if workers else None)
        for x, y in loader:
            yield x.to(self.device, non_blocking=True), (y.to(self.device, non_blocking=True) if self.has_labels else None)
