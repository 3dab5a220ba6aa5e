"""One self-describing checkpoint file per save.

It holds the format version, the recipe name, the resolved config (as plain data), step and epoch,
the state dicts of every network/optimizer/scheduler, the RNG states and the fixed sampling noise:
enough to rebuild the networks (``ganforge sample``) or continue the run (``ganforge resume``) without
any training flag. It is written to a temporary file, flushed and renamed, so a crash while writing
leaves the previous file intact; it is read with ``torch.load(weights_only=True)``: no code is pickled.
"""

from __future__ import annotations

import os
import platform
import random
import time
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .errors import GanforgeError

FORMAT_VERSION = 1


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_tuplify(state["python"]))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuplify(x: Any) -> Any:
    return tuple(_tuplify(v) for v in x) if isinstance(x, (list, tuple)) else x


def save(path: Path, payload: dict[str, Any]) -> None:
    """Atomically write ``payload`` (plus format metadata) to ``path``."""
    payload = {"format_version": FORMAT_VERSION, "ganforge_version": __version__, "torch_version": str(torch.__version__),
               "saved_at": time.time(), "host": platform.node(), **payload}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load(path: str | Path, expect_recipe: str | None = None, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint; a run directory means its ``last.pt``."""
    p = Path(path)
    if p.is_dir():
        p = p / "last.pt"
    if not p.is_file():
        raise GanforgeError(f"no checkpoint at {str(path)!r}" + (" (no last.pt in that folder)" if Path(path).is_dir() else ""))
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:
        raise GanforgeError(f"cannot read checkpoint {str(p)!r}: {' '.join(str(e).split())[:200]}") from None
    if not isinstance(ckpt, dict) or "format_version" not in ckpt or "recipe" not in ckpt:
        raise GanforgeError(f"{str(p)!r} is not a ganforge checkpoint")
    if ckpt["format_version"] > FORMAT_VERSION:
        raise GanforgeError(f"checkpoint {str(p)!r} has format {ckpt['format_version']}; this ganforge reads up to "
                            f"{FORMAT_VERSION}: upgrade ganforge")
    if expect_recipe is not None and ckpt["recipe"] != expect_recipe:
        raise GanforgeError(f"checkpoint {str(p)!r} was written by recipe {ckpt['recipe']!r}; expected {expect_recipe!r}")
    return ckpt
