"""``ganforge data prepare``: decode, resize and crop a data set once into memory-mappable uint8 shards.

As stylegan2-ada's dataset_tool does for its zip, but for streaming: a folder holding ``index.json`` (the
format, the count, the side, the channels, the shards, the class names and the preprocessing that made it) and
``shard_NNNNN.npy`` files of uint8 (n, S, S, C) (plus ``labels.npy`` when the source has labels). ``.npy`` is read
with ``allow_pickle=False`` and ``mmap_mode="r"``: nothing in it runs code, and a set larger than memory streams
from the page cache without any JPEG decoding. ``--data PATH`` (or ``prepared:PATH``) reads it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import DataConfig
from ..errors import GanforgeError

FORMAT = "ganforge-prepared"
VERSION = 1
INDEX = "index.json"
SHARD = 10_000  # images per shard (64 px RGB: 123 MB)
_MAPS: dict[tuple[str, int], list[np.ndarray]] = {}  # (folder, pid) -> its shards, memory-mapped in this process


def is_prepared(path: Path) -> bool:
    return path.is_dir() and (path / INDEX).is_file()


def _index(folder: Path) -> dict[str, Any]:
    try:
        index = json.loads((folder / INDEX).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GanforgeError(f"{folder / INDEX} cannot be read as JSON ({type(e).__name__})") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise GanforgeError(f"{folder / INDEX} is not the index of a prepared data set (`ganforge data prepare`)")
    if not isinstance(index.get("version"), int) or index["version"] > VERSION:
        raise GanforgeError(f"{folder} is prepared-data version {index.get('version')!r}; this ganforge reads up to "
                            f"{VERSION}")
    return index


def shards(folder: str) -> list[np.ndarray]:
    """The folder's shards, memory-mapped read-only (once per process: DataLoader workers map their own)."""
    key = (folder, os.getpid())
    if key not in _MAPS:
        index = _index(Path(folder))
        try:
            _MAPS[key] = [np.load(Path(folder) / s["file"], mmap_mode="r", allow_pickle=False) for s in index["shards"]]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise GanforgeError(f"prepared data {folder} is damaged ({type(e).__name__}: "
                                f"{' '.join(str(e).split())[:120]})") from None
    return _MAPS[key]


@dataclass(frozen=True)
class Item:
    """Image ``i`` of shard ``shard`` of a prepared folder (what a Source's ``files`` lists when streaming)."""

    folder: str
    shard: int
    i: int

    def __str__(self) -> str:
        return f"{self.folder}[shard {self.shard}, image {self.i}]"


def read_item(item: Item, cfg: DataConfig) -> np.ndarray:
    """One prepared image as uint8 (L, L, C); resized only when the run asks for another load size."""
    from .images import array_to_square

    arr = np.asarray(shards(item.folder)[item.shard][item.i])
    if arr.shape[0] != cfg.resolved_load_size or arr.shape[2] != cfg.channels:
        return array_to_square(arr[None], cfg.channels, cfg.resolved_load_size, cfg.resize)[0]
    return arr.copy()


def open_prepared(path: str, cfg: DataConfig) -> dict[str, Any]:
    """What a Source of a prepared folder needs: description, key, items, labels and class names."""
    folder = Path(path).expanduser()
    if not is_prepared(folder):
        raise GanforgeError(f"prepared:{path}: no {INDEX} there (make one with `ganforge data prepare SOURCE --out "
                            f"{path} --size S`)")
    index = _index(folder)
    maps = shards(str(folder))
    labels = None
    if index.get("labels"):
        labels = np.load(folder / index["labels"], allow_pickle=False).astype(np.int64)
    items = [Item(str(folder), s, i) for s, m in enumerate(maps) for i in range(len(m))]
    names = tuple(index["class_names"]) if index.get("class_names") else None
    return {"description": f"prepared {folder} ({index['count']} images, {index['size']} px, from {index.get('source')})",
            "key": f"prepared|{folder.resolve()}|{index['count']}|{index.get('created')}", "items": items,
            "labels": labels, "class_names": names}
