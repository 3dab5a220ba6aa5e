"""Where numbers go: ``metrics.jsonl`` (one JSON object per logged step) and TensorBoard scalars.

Rows are written by the trainer every ``train.log_every`` steps; the loss-curve PNG and, later, the
HTML report are drawn from the run directory alone (see ``plots.py``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Callable

from .errors import GanforgeError
from .files import atomic_write


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file; lines that are not UTF-8 JSON objects (a line cut short by a crash, a
    damaged file) are skipped, with one warning naming the file and the count when there is more than a cut
    last line."""
    rows: list[dict[str, Any]] = []
    if not path.is_file():
        return rows
    lines = [line.strip() for line in path.read_bytes().splitlines()]
    lines = [line for line in lines if line]
    bad: list[int] = []
    for i, line in enumerate(lines):
        try:
            row = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            row = None
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad.append(i)
    if bad and bad != [len(lines) - 1]:  # more than the last line, which a crash can cut short
        warnings.warn(f"{path} is damaged: skipped {len(bad)} of its {len(lines)} lines (not UTF-8 JSON rows)",
                      stacklevel=2)
    return rows


# TensorBoard groups: the first rule whose test matches a metrics.jsonl key names its section
TB_GROUPS = (("eval/", lambda k: k.startswith("eval/")), ("loss/", lambda k: k.startswith("loss")),
             ("score/", lambda k: k.startswith(("d_", "w_distance")) or k in ("ac_real", "ac_fake", "ac_g")),
             ("val/", lambda k: k.startswith("val_")), ("speed/", lambda k: k == "images_per_s"),
             ("lr/", lambda k: k.startswith("lr")),
             ("penalty/", lambda k: k in ("gp", "r1", "r2", "gamma") or k.startswith("loss_d_adv")),
             ("augment/", lambda k: k.startswith("augment")), ("toy/", lambda k: k in TOY_KEYS))
TOY_KEYS = ("modes", "high_quality", "reverse_kl")


def tb_tag(key: str) -> str:
    """A metrics.jsonl key -> its TensorBoard tag, grouped: loss/loss_d, score/d_real, val/val_psnr, lr/lr_g ..."""
    for group, match in TB_GROUPS:
        if match(key):
            return key if key.startswith(group) else group + key
    return "train/" + key


def open_wandb(run_dir: Path, opts: dict[str, Any]) -> Any:
    """A Weights & Biases run (``train.wandb=true``): optional, not a dependency of ganforge; WANDB_MODE=offline
    writes it under RUN/wandb/ for a later `wandb sync`."""
    try:
        import wandb
    except ImportError:
        raise GanforgeError("train.wandb=true needs the wandb package (pip install wandb; WANDB_MODE=offline logs "
                            "without a network or account)") from None
    return wandb.init(project=opts["project"], id=opts["id"], name=opts["name"], config=opts["config"],
                      dir=str(run_dir), resume="allow")


class RunLog:
    def __init__(self, run_dir: Path, tensorboard: bool, resume_step: int | None = None,
                 wandb: dict[str, Any] | None = None) -> None:
        self.wandb = open_wandb(run_dir, wandb) if wandb else None
        self.path = run_dir / "metrics.jsonl"
        if resume_step is not None:
            # Rows logged after the checkpoint we resume from would be logged again: drop them.
            keep = [r for r in read_jsonl(self.path) if isinstance(r.get("step"), (int, float)) and r["step"] <= resume_step]
            atomic_write(self.path, "".join(json.dumps(r) + "\n" for r in keep))
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
            self._tb(lambda tb: [tb.add_scalar(tb_tag(k), v, step) for k, v in values.items()
                                 if isinstance(v, (int, float)) and k not in ("epoch", "time")])

        if self.wandb is not None:
            self.wandb.log({tb_tag(k): v for k, v in values.items() if isinstance(v, (int, float)) and k != "epoch"},
                           step=step)

    def image(self, tag: str, grid: Any, step: int) -> None:
        if self.tb is not None:
            self._tb(lambda tb: tb.add_image(tag, grid, step))
        if self.wandb is not None:
            import wandb

            self.wandb.log({tag: wandb.Image(grid.permute(1, 2, 0).float().cpu().numpy())}, step=step)

    def _tb(self, write: Callable[[Any], object]) -> None:
        """TensorBoard is a view of metrics.jsonl: a failure to write it (a full disk...) warns once and turns
        it off for the rest of the run instead of stopping training."""
        try:
            write(self.tb)
        except Exception as e:  # noqa: BLE001 - tensorboard raises assorted errors from its writer thread
            warnings.warn(f"TensorBoard logging stopped: {' '.join(str(e).split())[:200]}", stacklevel=3)
            tb, self.tb = self.tb, None
            try:
                tb.close()
            except Exception:  # noqa: BLE001
                pass

    def close(self) -> None:
        self.file.close()
        if self.wandb is not None:
            self.wandb.finish()
        if self.tb is not None:
            self._tb(lambda tb: tb.close())
