"""Where numbers go: ``metrics.jsonl`` (one JSON object per logged step) and TensorBoard scalars.

Rows are written by the trainer every ``train.log_every`` steps; the loss-curve PNG and, later, the
HTML report are drawn from the run directory alone (see ``plots.py``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash
    return rows


class RunLog:
    def __init__(self, run_dir: Path, tensorboard: bool, resume_step: int | None = None) -> None:
        self.path = run_dir / "metrics.jsonl"
        if resume_step is not None:
            # Rows logged after the checkpoint we resume from would be logged again: drop them.
            keep = [r for r in read_jsonl(self.path) if r.get("step", 0) <= resume_step]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in keep), encoding="utf-8")
        self.file = open(self.path, "a", encoding="utf-8")
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run_dir / "tb"), purge_step=resume_step)
            except ImportError:
                warnings.warn("tensorboard is not installed; TensorBoard logging is off", stacklevel=2)

    def log(self, step: int, values: dict[str, Any]) -> None:
        self.file.write(json.dumps({"step": step, **values}) + "\n")
        self.file.flush()
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)) and k not in ("epoch", "time"):
                    self.tb.add_scalar(k, v, step)

    def image(self, tag: str, grid: Any, step: int) -> None:
        if self.tb is not None:
            self.tb.add_image(tag, grid, step)

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()
