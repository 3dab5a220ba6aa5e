"""``lmdb:PATH``: an LMDB of encoded images, the format LSUN is distributed in (the seeds' bedrooms).

LSUN's ``bedroom_train_lmdb`` holds one entry per image: the key an id, the value the image file's bytes (webp
in the distributed sets, jpeg in older dumps). ganforge lists the keys once (in key order; ``data.limit`` stops
the listing early) and decodes values with Pillow only, like any image file: nothing in the database runs code.
Large sets stream through DataLoader workers (``data.in_memory=auto`` keeps only sets within
``data.in_memory_limit_mb`` in memory); each worker process opens the environment read-only for itself (an LMDB
handle must not cross a fork). A folder holding ``data.mdb`` or the ``data.mdb`` file itself may be given.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import DataConfig
from ..errors import GanforgeError

_ENVS: dict[tuple[str, int], Any] = {}  # (path, pid) -> an open read-only environment of this process


def _open(path: str) -> Any:
    key = (path, os.getpid())
    env = _ENVS.get(key)
    if env is None:
        import lmdb

        env = lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False, max_readers=512,
                        subdir=Path(path).is_dir())
        _ENVS[key] = env
    return env


@dataclass(frozen=True)
class Entry:
    """One image of an LMDB: its database and key (what a Source's ``files`` lists)."""

    path: str
    key: bytes

    def __str__(self) -> str:  # in warnings ("skipped unreadable image ...")
        return f"{self.path}[{self.key.decode(errors='replace')}]"


def decode_entry(entry: Entry, cfg: DataConfig) -> np.ndarray:
    """The entry's bytes -> uint8 (L, L, C) as an image file's (Pillow only; errors as unreadable images)."""
    from PIL import Image

    from .images import prepare

    with _open(entry.path).begin(write=False) as txn:
        data = txn.get(entry.key)
    if data is None:
        raise OSError(f"no entry {entry}")
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return prepare(img, cfg.channels, cfg.resolved_load_size, cfg.resize)


def read_lmdb(path: str, cfg: DataConfig) -> tuple[str, str, list[Entry]]:
    """``lmdb:PATH`` -> (description, cache key, the :class:`Entry` items), for a Source decoded by
    :func:`decode_entry`."""
    try:
        import lmdb
    except ImportError:
        raise GanforgeError("lmdb:PATH needs the lmdb package (pip install lmdb)") from None
    if not path:
        raise GanforgeError("data source lmdb: needs a path, e.g. lmdb:/data/lsun/bedroom_train_lmdb")
    p = Path(path).expanduser()
    if p.is_file() and p.name == "data.mdb":
        p = p.parent
    if not p.exists():
        raise GanforgeError(f"data path {path!r} does not exist")
    if p.is_dir() and not (p / "data.mdb").is_file():
        raise GanforgeError(f"lmdb:{path}: no data.mdb in that folder (an LMDB environment is a folder holding "
                            f"data.mdb, e.g. LSUN's bedroom_train_lmdb/)")
    try:
        env = _open(str(p))
        limit = cfg.limit or 0
        keys: list[bytes] = []
        with env.begin(write=False) as txn:
            entries = txn.stat()["entries"]
            for k in txn.cursor().iternext(keys=True, values=False):
                keys.append(bytes(k))
                if limit and len(keys) >= limit:
                    break
    except lmdb.Error as e:
        raise GanforgeError(f"lmdb:{path} cannot be read as an LMDB environment ({type(e).__name__}: "
                            f"{' '.join(str(e).split())[:120]})") from None
    if not keys:
        raise GanforgeError(f"lmdb:{path} holds no entries")
    st = (p / "data.mdb").stat()
    return (f"lmdb {p} ({entries} images{f', the first {len(keys)}' if len(keys) < entries else ''})",
            f"lmdb|{p.resolve()}|{entries}|{st.st_size}|{st.st_mtime_ns}|{len(keys)}", [Entry(str(p), k) for k in keys])
