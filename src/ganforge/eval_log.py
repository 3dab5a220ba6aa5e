"""A run directory's evaluation record: ``eval.jsonl`` (one row per scored checkpoint, with its protocol),
``best.pt``/``best.json`` (the checkpoint with the best ranking metric, see ``metrics.main_metric``) and the
curve ``eval_<metric>.png``. The metric math knows nothing of run directories; this module knows nothing of
the math.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from .errors import GanforgeError
from .files import atomic_write, read_json
from .metrics import main_metric


def checkpoints_of(source: Path, which: str) -> list[Path]:
    if source.is_file():
        return [source]
    if which == "last":
        return [source / "last.pt"]
    if which == "best":
        if not (source / "best.pt").is_file():
            raise GanforgeError(f"no best.pt in {source}: run `ganforge evaluate {source} --checkpoints all` first")
        return [source / "best.pt"]
    found = sorted((source / "checkpoints").glob("epoch_*.pt"))
    if not found:
        raise GanforgeError(f"no epoch checkpoints in {source / 'checkpoints'} (keep them all with train.keep_checkpoints=0)")
    return found


def append_rows(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    with open(run_dir / "eval.jsonl", "a", encoding="utf-8") as fh:
        fh.writelines(json.dumps({**r, "time": round(time.time(), 1)}) + "\n" for r in rows)


def mark_best(run_dir: Path, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Copy the best-scoring checkpoint to ``best.pt`` (atomically) and return its row."""
    scored = [(r, main_metric(r)) for r in rows]
    scored = [(r, m) for r, m in scored if m]
    if not scored:
        return None
    key, higher = scored[0][1]  # type: ignore[misc]
    best = (max if higher else min)((r for r, _ in scored if key in r), key=lambda r: r[key])
    (run_dir / "best.json").unlink(missing_ok=True)
    update_best(run_dir, best)
    return best


def plot_metric(run_dir: Path, rows: list[dict[str, Any]], best: dict[str, Any] | None) -> Path | None:
    m = main_metric(rows[0]) if rows else None
    if m is None or len(rows) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = m[0]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot([r["epoch"] for r in rows], [r[key] for r in rows], marker="o")
    if best is not None:
        ax.scatter([best["epoch"]], [best[key]], s=120, facecolors="none", edgecolors="red", label="best.pt", zorder=3)
        ax.legend()
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    safe = "".join(ch if ch.isalnum() else "_" for ch in key).strip("_")
    out = run_dir / f"eval_{safe}.png"
    try:
        atomic_write(out, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)
    return out


def update_best(run_dir: Path, row: dict[str, Any]) -> bool:
    """During training: copy ``row``'s checkpoint to ``best.pt`` when it beats the best so far (``best.json``)."""
    m = main_metric(row)
    if m is None:
        return False
    key, higher = m
    path = run_dir / "best.json"
    old = read_json(path, missing={}, damaged={})  # a damaged best.json is replaced
    if old and old.get("key") == key and (row[key] <= old["value"] if higher else row[key] >= old["value"]):
        return False

    def copy(f: Any) -> None:
        with open(row["checkpoint"], "rb") as src:
            shutil.copyfileobj(src, f, 1 << 20)

    atomic_write(run_dir / "best.pt", copy, fsync=True)
    atomic_write(path, json.dumps({"key": key, "value": row[key], "epoch": row["epoch"], "step": row["step"],
                                   "checkpoint": row["checkpoint"]}))
    return True


def run_dir_of(path: Path) -> Path | None:
    """The run directory a run or checkpoint path belongs to (where eval.jsonl goes)."""
    if path.is_dir():
        return path
    for d in (path.parent, path.parent.parent):
        if (d / "config.yaml").is_file() or (d / "last.pt").is_file():
            return d
    return None
