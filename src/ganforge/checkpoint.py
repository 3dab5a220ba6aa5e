"""One self-describing checkpoint file per save.

It holds the format version, the recipe name, the resolved config (as plain data), step and epoch,
the state dicts of every network/optimizer/scheduler, the RNG states and the fixed sampling noise:
enough to rebuild the networks (``ganforge sample``) or continue the run (``ganforge resume``) without
any training flag. It is written to a temporary file, flushed and renamed, so a crash while writing
leaves the previous file intact; it is read with ``torch.load(weights_only=True)``: no code is pickled.
"""

from __future__ import annotations

import platform
import random
import time
from pathlib import Path
from typing import Any

import torch

from ._version import __version__
from .errors import GanforgeError
from .files import atomic_write, describe_os_error

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
    """Atomically write ``payload`` (plus format metadata) to ``path``; a full disk raises
    :class:`~ganforge.files.DiskFullError` and leaves the previous file intact."""
    payload = {"format_version": FORMAT_VERSION, "ganforge_version": __version__, "torch_version": str(torch.__version__),
               "saved_at": time.time(), "host": platform.node(), **payload}
    atomic_write(path, lambda f: torch.save(payload, f), fsync=True)


def slim(payload: dict[str, Any]) -> dict[str, Any]:
    """What sampling, evaluation, export and ``--init`` read (the networks, the EMA, counters, config, step): an
    epoch checkpoint without the optimizer, scheduler and RNG state that only resuming needs (``last.pt`` keeps
    them); a third of the size with Adam's two moments gone."""
    state = payload["state"]
    kept = {k: v for k, v in state.items() if k not in ("optimizers", "schedulers", "scalers", "noise_rng")}
    return {**{k: v for k, v in payload.items() if k not in ("rng", "log_window", "rank_states")}, "state": kept,
            "slim": True}


# What every checkpoint holds (sampling and evaluation), and what resuming a run needs besides.
REQUIRED = ("format_version", "recipe", "config", "state", "data_info", "step", "epoch")
FOR_RESUME = ("rng", "fixed_inputs")


def _damaged(p: Path, why: str) -> GanforgeError:
    return GanforgeError(f"{p} is not a ganforge checkpoint or is damaged ({why})")


def load(path: str | Path, expect_recipe: str | None = None, map_location: str | torch.device = "cpu",
         for_resume: bool = False) -> dict[str, Any]:
    """Read a checkpoint; a run directory means its ``last.pt``. Only tensors and plain data are unpickled
    (``weights_only=True``); anything else, a cut-short or foreign file, or missing parts are a one-line error."""
    p = Path(path)
    if p.is_dir():
        p = p / "last.pt"
    if not p.is_file():
        raise GanforgeError(f"no checkpoint at {str(path)!r}" + (" (no last.pt in that folder)" if Path(path).is_dir() else ""))
    try:
        size = p.stat().st_size
    except OSError as e:
        raise GanforgeError(f"cannot read checkpoint {p}: {describe_os_error(e)}") from None
    if size == 0:
        raise _damaged(p, "it is empty: 0 bytes")
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except PermissionError as e:
        raise GanforgeError(f"cannot read checkpoint {p}: {describe_os_error(e)}") from None
    except Exception:  # noqa: BLE001 - zip, unpickling and EOF errors alike; never suggest unsafe loading
        raise _damaged(p, "torch cannot read it, or it holds something other than tensors and plain data") from None
    if not isinstance(ckpt, dict):
        raise _damaged(p, f"it holds a {type(ckpt).__name__}")
    missing = [k for k in REQUIRED + (FOR_RESUME if for_resume else ()) if k not in ckpt]
    if missing:
        raise _damaged(p, f"missing {', '.join(repr(k) for k in missing)}")
    if not isinstance(ckpt["config"], dict) or not isinstance(ckpt["state"], dict) or not isinstance(ckpt["data_info"], dict):
        raise _damaged(p, "its config, state or data_info is not a mapping")
    if not isinstance(ckpt["format_version"], int) or not isinstance(ckpt["step"], int):
        raise _damaged(p, "its format_version or step is not an integer")
    if ckpt["format_version"] > FORMAT_VERSION:
        raise GanforgeError(f"checkpoint {str(p)!r} has format {ckpt['format_version']}; this ganforge reads up to "
                            f"{FORMAT_VERSION}: upgrade ganforge")
    if expect_recipe is not None and ckpt["recipe"] != expect_recipe:
        raise GanforgeError(f"checkpoint {str(p)!r} was written by recipe {ckpt['recipe']!r}; expected {expect_recipe!r}")
    return ckpt
