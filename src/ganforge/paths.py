"""Where ganforge keeps downloaded data and decoded-dataset caches.

``$GANFORGE_CACHE`` wins; otherwise ``$XDG_CACHE_HOME/ganforge`` or ``~/.cache/ganforge``.
"""

from __future__ import annotations

import os
from pathlib import Path


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
