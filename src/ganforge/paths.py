"""Where ganforge keeps downloaded data and decoded-dataset caches.

``$GANFORGE_CACHE`` wins; otherwise ``$XDG_CACHE_HOME/ganforge`` or ``~/.cache/ganforge``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import IO, Callable


def cache_dir() -> Path:
    env = os.environ.get("GANFORGE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "ganforge"


def data_dir(name: str) -> Path:
    """Folder that ``ganforge data fetch NAME`` fills and that ``--data NAME`` reads."""
    return cache_dir() / "data" / name


def write_cache(path: Path, write: Callable[[IO[bytes]], object]) -> bool:
    """Write a cache file atomically; the cache is optional, so a failure (an unwritable $GANFORGE_CACHE or
    $HOME, a full disk) is one warning and the caller goes on without it. Returns whether it was written."""
    from .files import atomic_write

    try:
        atomic_write(path, write)
        return True
    except OSError as e:  # includes DiskFullError's cause; the message names the folder
        warnings.warn(f"cache not written ({e.strerror or e}: {path.parent}); going on without it "
                      f"(set $GANFORGE_CACHE to a writable folder to keep it)", stacklevel=2)
    except Exception as e:  # noqa: BLE001 - DiskFullError and the like: the cache is never worth a failure
        warnings.warn(f"cache not written ({e}); going on without it", stacklevel=2)
    return False
