"""``ganforge data prepare``: the writer of the prepared format that ``prepared.py`` reads (its own module: it reads
any data spec through ``sources.py``, which itself reads prepared folders)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..config import DataConfig
from ..errors import GanforgeError
from . import prepared
from .prepared import FORMAT, INDEX, VERSION


def prepare(source: str, out: str, size: int, channels: int = 3, resize: str = "shorter", split: str = "train",
            progress: bool = True) -> dict[str, Any]:
    """Decode ``source`` (any ``--data`` spec) at ``size`` into ``out``; returns the index written."""
    from ..files import atomic_write, ensure_writable_dir
    from .images import array_to_square
    from .loader import decode_files
    from .sources import open_source

    if size < 4:
        raise GanforgeError(f"--size {size}: give the side in pixels, >= 4")
    folder = Path(out)
    if folder.exists() and any(folder.iterdir()):
        raise GanforgeError(f"--out {out!r} is not empty; give a new folder")
    cfg = DataConfig(source=source, image_size=size, load_size=size, channels=channels, resize=resize, split=split)
    src = open_source(cfg)
    if src.points is not None or src.input_channels:
        raise GanforgeError(f"data prepare takes image data; {source} is {'points' if src.points is not None else 'pairs'}")
    n = len(src)
    ensure_writable_dir(folder, "--out folder")
    from ..progress import bar as progress_bar

    bar = progress_bar(n, unit="image", desc="prepare") if progress else None
    shard_list, kept_labels, skipped = [], [], 0
    t0 = time.time()
    for s, start in enumerate(range(0, n, prepared.SHARD)):
        stop = min(n, start + prepared.SHARD)
        if src.array is not None:
            arr = array_to_square(src.array[start:stop], channels, size, resize)
            ok = list(range(stop - start))
        else:
            decoded = decode_files(src, cfg, (src.files or [])[start:stop])
            ok = [i for i, a in enumerate(decoded) if a is not None]
            skipped += len(decoded) - len(ok)
            arr = np.stack([decoded[i] for i in ok]) if ok else np.zeros((0, size, size, channels), np.uint8)
        name = f"shard_{s:05d}.npy"
        mm = np.lib.format.open_memmap(folder / name, mode="w+", dtype=np.uint8, shape=arr.shape)
        mm[:] = arr
        mm.flush()
        del mm
        shard_list.append({"file": name, "count": int(len(arr))})
        if src.labels is not None:
            kept_labels.append(src.labels[start:stop][ok])
        if bar is not None:
            bar.update(stop - start)
    if bar is not None:
        bar.close()
    count = sum(s["count"] for s in shard_list)
    if not count:
        raise GanforgeError(f"none of the {n} images of {source} could be read")
    index = {"format": FORMAT, "version": VERSION, "count": count, "size": size, "channels": channels,
             "shards": shard_list, "labels": None, "class_names": list(src.class_names) if src.class_names else None,
             "source": source, "split": split, "skipped": skipped, "created": time.time(),
             "preprocessing": {"resize": resize, "load_size": size, "channels": channels}, "seconds": round(time.time() - t0, 1)}
    if kept_labels:
        np.save(folder / "labels.npy", np.concatenate(kept_labels).astype(np.int64), allow_pickle=False)
        index["labels"] = "labels.npy"
    atomic_write(folder / INDEX, json.dumps(index, indent=1) + "\n")  # last: a folder without it is no data set
    return index
