"""Unpaired data for CycleGAN (Zhu et al. 2017): two image domains, A and B, drawn independently.

Where the domains come from (``--data PATH``):
  PATH/trainA, PATH/trainB   the CycleGAN layout (``testA``/``testB`` give the fixed preview images), or
  PATH/A, PATH/B             any two image folders side by side, or
  data.source = folder of A, data.source_b = folder of B
  builtin:pizza              the offline pair of domains: A flat cartoon pizzas, B "photographic" pizzas
                             (``builtin:pizza-photo``), drawn from different seeds, so no pair is known
Each step takes a batch of A and a batch of B from two independent shuffles (each domain has its own order
and augmentation stream; the smaller domain wraps around). An epoch is max(|A|, |B|) // batch steps, as in
the reference implementation. Each domain is preprocessed like any image folder (resize to ``load_size``,
random crop ``image_size``, flip) and converted to ``data.channels``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import torch

from ..config import DataConfig
from ..errors import GanforgeError
from .images import folder_mode
from .loader import Batch, Data
from .sources import fetched_or_folder

FETCHED = ("horse2zebra", "apple2orange", "summer2winter_yosemite", "monet2photo", "maps-unpaired")
BUILTIN_DOMAINS = {"pizza": ("pizza", "pizza-photo")}
VAL_SPLITS = ("test", "val")


def _root(spec: str) -> Path:
    return fetched_or_folder(spec, FETCHED, "a folder with trainA/ and trainB/")


def domain_configs(cfg: DataConfig, part: str) -> tuple[DataConfig, DataConfig] | None:
    """The data settings of domain A and domain B for ``part`` (train or val); None: no such part."""
    spec = cfg.source.strip()
    if spec.startswith("builtin:"):
        name = spec.split(":", 1)[1]
        if name not in BUILTIN_DOMAINS:
            raise GanforgeError(f"builtin:{name} has one domain; unpaired built-in data: "
                                f"{', '.join('builtin:' + n for n in BUILTIN_DOMAINS)}")
        a, b = BUILTIN_DOMAINS[name]
        seed = cfg.builtin_seed if part == "train" else cfg.builtin_seed + 7919
        n = cfg.generated() if part == "train" else (cfg.limit or 64)
        return (replace(cfg, source=f"builtin:{a}", builtin_seed=seed, builtin_n=n),
                replace(cfg, source=f"builtin:{b}", builtin_seed=seed + 1, builtin_n=n))
    if cfg.source_b:
        if part != "train":
            return None
        dirs = (_root(spec), _root(cfg.source_b.strip()))
    else:
        root = _root(spec)
        if part == "train":
            split = cfg.split
            if (root / f"{split}A").is_dir() or (root / f"{split}B").is_dir():
                dirs = (root / f"{split}A", root / f"{split}B")
            elif (root / "A").is_dir() or (root / "B").is_dir():
                dirs = (root / "A", root / "B")
            else:
                raise GanforgeError(f"no {split}A/ and {split}B/ in {root} (the CycleGAN layout: trainA/ trainB/ testA/ "
                                    f"testB/), nor A/ and B/; or give domain B with data.source_b=PATH")
            for d in dirs:
                if not d.is_dir():
                    raise GanforgeError(f"{d} is missing: unpaired data needs both domains ({dirs[0].name}/ and "
                                        f"{dirs[1].name}/)")
        else:
            names = [cfg.val_split] if cfg.val_split not in ("auto", "none") else list(VAL_SPLITS)
            found = [(root / f"{s}A", root / f"{s}B") for s in names if (root / f"{s}A").is_dir() and (root / f"{s}B").is_dir()]
            if not found:
                if cfg.val_split not in ("auto", "none"):
                    raise GanforgeError(f"data.val_split {cfg.val_split!r}: no {cfg.val_split}A/ and {cfg.val_split}B/ "
                                        f"in {root}")
                return None
            dirs = found[0]
    modes = [folder_mode(d) for d in dirs]
    if part == "train" and len({m for m in modes if m}) > 1:
        warnings.warn(f"domain A ({dirs[0]}) is {modes[0]} and domain B ({dirs[1]}) is {modes[1]}; both are converted "
                      f"to data.channels={cfg.channels}", stacklevel=3)
    # the domain folders are read whole (an A/ or trainA/ folder has no split folders of its own)
    return tuple(replace(cfg, source=f"folder:{d}", split="", source_b="") for d in dirs)  # type: ignore[return-value]


class UnpairedData:
    """Two independent streams, domain A and domain B; ``Batch.image`` is A, ``Batch.target`` is B."""

    def __init__(self, cfg_a: DataConfig, cfg_b: DataConfig, batch_size: int, seed: int, device: torch.device,
                 shard: tuple[int, int] = (0, 1)) -> None:
        self.a = Data(cfg_a, batch_size, seed, device, shard=shard)
        self.b = Data(cfg_b, batch_size, seed + 1, device, shard=shard)  # its own shuffle and augmentation
        self.cfg, self.batch_size, self.device = cfg_a, batch_size, device
        self.n = max(self.a.n, self.b.n)
        self.steps_per_epoch = self.n // batch_size
        self.description = f"unpaired A: {self.a.description}; B: {self.b.description}"
        self.class_names, self.points_dim, self.toy = None, 0, None
        self.input_channels = cfg_a.channels  # > 0: batches carry a target (here: a batch of domain B)
        self.in_memory = self.a.in_memory and self.b.in_memory
        self.stream_reason = "; ".join(f"{name}: {d.stream_reason}" for name, d in (("A", self.a), ("B", self.b))
                                       if not d.in_memory)
        self.unit = "images in the larger domain"

    @property
    def has_targets(self) -> bool:
        """Batches carry a target: a batch of domain B beside each batch of domain A."""
        return True

    @classmethod
    def open(cls, cfg: DataConfig, batch_size: int, seed: int, device: torch.device,
             part: str = "train", shard: tuple[int, int] = (0, 1)) -> UnpairedData | None:
        cfgs = domain_configs(cfg, part)
        return None if cfgs is None else cls(*cfgs, batch_size, seed, device, shard)

    def batches(self, start_step: int = 0) -> Iterator[Batch]:
        for x, y in zip(self.a.batches(start_step), self.b.batches(start_step)):
            yield Batch(x.image, target=y.image)

    def ordered(self, batch_size: int, n: int = 0) -> Iterator[Batch]:
        for x, y in zip(self.a.ordered(batch_size, n), self.b.ordered(batch_size, n)):
            k = min(len(x.image), len(y.image))
            yield Batch(x.image[:k], target=y.image[:k])
