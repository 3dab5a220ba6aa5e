"""The training loop: config -> data -> recipe.train_step(batch) -> scalars -> log, sample, checkpoint.

Training counts steps; epochs are ``images // batch_size`` steps. Every ``train.log_every`` steps the
window means of the recipe's scalars go to ``metrics.jsonl`` and TensorBoard (one host sync per
window, none inside the step). At each epoch end: a sample grid from the fixed noise, ``last.pt`` and
``checkpoints/epoch_NNN.pt``, and the loss-curve PNG. SIGINT/SIGTERM finish the current step, save
``last.pt`` and stop; ``ganforge resume`` then continues with the same batches and RNG stream.

Under torchrun every rank runs this loop on its slice of each global batch (``ganforge.distributed``); only
rank 0 writes files, and the ranks agree after every step on whether to stop.
"""

from __future__ import annotations

import json
import math
import platform
import shutil
import uuid
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from . import checkpoint, distributed, speed
from .config import Config, save_yaml, to_plain
from .data.images import make_grid, save_image
from .data.open import open_data
from .device import pick_device
from .errors import GanforgeError
from .files import DiskFullError, atomic_write, ensure_writable_dir, is_disk_full, read_json, sweep_temp
from .plots import plot_losses
from .recipes import RECIPES, DataInfo, Recipe
from .rng import Stream, seed_of, seeded
from .runlock import RunLock, is_main_rank
from .runlog import RunLog

# Keys that may change when a run is resumed: they lengthen the run or change where it runs, never what
# it computes per step.
RESUME_KEYS = ("train.epochs", "train.steps", "train.device", "train.progress", "train.tensorboard", "train.wandb",
               "train.wandb_project", "train.full_checkpoints",
               "train.keep_checkpoints", "train.val_images", "train.report", "train.precision", "train.channels_last",
               "train.compile", "train.sync_bn", "data.workers", "eval.every", "eval.metrics", "eval.extractor",
               "eval.weights", "eval.n", "eval.real")
DRAW_EVERY_S = 30.0  # the loss plot and the report are redrawn at epoch ends at most this often, and at the end
TEMP_DIRS = (".", "checkpoints", "samples", "explore")  # where a killed write can leave a temp file
RUN_FILES = ("config.yaml", "run.json", "metrics.jsonl", "last.pt", "losses.png", "checkpoints", "samples", "tb",
             "eval.jsonl", "best.pt", "best.json", "report.html")


def check_run_dir(run_dir: Path, force: bool) -> list[str]:
    """Refuse a folder that holds a run, unless ``force``; returns the run files that starting afresh removes.
    A run that stopped before its first checkpoint (nothing to resume) is started afresh without --force."""
    if run_dir.exists() and not run_dir.is_dir():
        raise GanforgeError(f"run directory {str(run_dir)!r} is a file")
    existing = [f for f in RUN_FILES if (run_dir / f).exists()]
    if existing and not force:
        if has_checkpoint(run_dir):
            raise GanforgeError(f"run directory {str(run_dir)!r} already holds a run ({', '.join(existing)}); "
                                f"use `ganforge resume {run_dir}` to continue it or --force to start over")
        warnings.warn(f"{run_dir} holds a run that stopped before its first checkpoint ({', '.join(existing)}); "
                      f"starting it afresh", stacklevel=2)
    return existing


def last_good(run_dir: Path) -> str:
    """Where the newest complete checkpoint is, for error messages."""
    last = run_dir / "last.pt"
    try:
        return f"the last good checkpoint is {last} (step {checkpoint.load(last)['step']})"
    except GanforgeError:
        return "no checkpoint was written yet"


def disk_full(e: BaseException, run_dir: Path) -> GanforgeError:
    """The one-line error of a full disk: which file, the last good checkpoint, what to do."""
    where = str(e) if isinstance(e, DiskFullError) else \
        f"no space left on device while writing {getattr(e, 'filename', None) or 'in ' + str(run_dir)}"
    return GanforgeError(f"{where}; {last_good(run_dir)}; free some space and `ganforge resume {run_dir}`")


def has_checkpoint(run_dir: Path) -> bool:
    return (run_dir / "last.pt").is_file() or any((run_dir / "checkpoints").glob("epoch_*.pt"))


def prepare_run_dir(run_dir: Path, existing: list[str]) -> None:
    """Remove the run files that ``check_run_dir`` found (only reached with --force) and create the folder."""
    for f in existing:
        p = run_dir / f
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    ensure_writable_dir(run_dir, "run directory")
    swept = sweep_temp(*(run_dir / d for d in TEMP_DIRS))
    if swept:
        warnings.warn(f"removed {len(swept)} temp file(s) left by an interrupted write in {run_dir} (first: "
                      f"{swept[0].name})", stacklevel=2)


class _StopSignal:
    """SIGINT/SIGTERM ask the loop to stop after the current step; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested: str | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopSignal:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: no handlers
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


class _NoLog:
    """The log of ranks other than 0: they write nothing."""

    def log(self, step: int, values: dict[str, Any]) -> None:
        pass

    def image(self, tag: str, grid: Any, step: int) -> None:
        pass

    def close(self) -> None:
        pass


class Trainer:
    def __init__(self, cfg: Config, run_dir: Path, resume: dict[str, Any] | None = None,
                 init: dict[str, Any] | None = None) -> None:
        self.cfg, self.run_dir = cfg, run_dir
        self.lock: RunLock | None = None  # the run directory's lock (start/resume take it; fit releases it)
        t = cfg.train
        self.world, device_name = distributed.setup(t.device)  # torchrun: join the group; cuda:LOCAL_RANK
        self.main = self.world.main  # only rank 0 writes files
        self.device = pick_device(device_name)
        speed.check_precision(t.precision, self.device)  # fp16 without CUDA fails here, before the data is read
        if t.sync_bn and self.world.size > 1 and self.device.type != "cuda":
            raise GanforgeError("train.sync_bn=true needs CUDA devices (torch's SyncBatchNorm runs on GPUs only); "
                                "set train.sync_bn=false")
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True  # TF32 tensor cores for fp32 matmuls (convs use them already)
            torch.backends.cudnn.benchmark = not t.deterministic
        # torch's default generator (dropout masks, CycleGAN's pool draws) differs between torchrun ranks; the noise
        # and the data draws are the same on every rank (recipe.noise_gen, data/loader.py)
        torch.manual_seed(t.seed if self.world.rank == 0 else seed_of(t.seed, self.world.rank))
        if t.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        recipe_cls = RECIPES.get(cfg.recipe)
        self.data = open_data(cfg.data, t.batch_size, t.seed, self.device, recipe_cls.data_kind,
                              shard=(self.world.rank, self.world.size))
        self.total_steps = t.steps or t.epochs * self.data.steps_per_epoch
        self.info = DataInfo(cfg.data.channels, cfg.data.image_size, self.data.class_names, self.data.points_dim,
                             self.data.input_channels, self.total_steps)
        self.recipe: Recipe = recipe_cls.build(cfg, self.info, self.device)
        self.val: Any = None  # validation data of translation recipes: scored and previewed every epoch (rank 0)
        if self.data.has_targets and t.val_images and cfg.data.val_split != "none" and self.main:
            self.val = open_data(cfg.data, 1, t.seed, self.device, recipe_cls.data_kind, val_images=t.val_images)
        # fixed inputs of the per-epoch samples: a class grid for conditional models, a point cloud for toys, the
        # first validation (else training) pairs for translation; those come from the data and are not saved
        self.fixed_from_data = self.data.has_targets
        if self.fixed_from_data:
            b = next((self.val or self.data).ordered(t.n_samples, t.n_samples))
            self.fixed, self.nrow = {"input": b.image, "target": b.target}, 3
        else:
            self.fixed, self.nrow = self.recipe.preview_inputs(t.n_samples, seeded(t.seed, Stream.PREVIEW))
        self.step, self.window = 0, self._empty_window()
        self._drawn_at = -math.inf  # the first epoch end draws
        self.extractor = None  # the feature extractor of eval.every, opened now: a missing weights file fails at once
        if cfg.eval.every and not self.info.points and self.main:
            from .metrics.extractors import open_extractor

            self.extractor = open_extractor(cfg.eval.extractor, cfg.eval.weights or None, self.device)
        try:
            self._load(init, resume)
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as e:
            which = "--init checkpoint" if resume is None else str(run_dir / "last.pt")
            raise GanforgeError(f"{which} does not fit this run (damaged, or other networks): {type(e).__name__}: "
                                f"{' '.join(str(e).split())[:160]}") from None

    def _load(self, init: dict[str, Any] | None, resume: dict[str, Any] | None) -> None:
        """The state of a warm start (networks only) or of the run being resumed."""
        t = self.cfg.train
        if init is not None:  # warm start: networks only
            self.recipe.load_state_dict(init["state"], nets_only=True)
        if resume is not None:
            self.recipe.load_state_dict(resume["state"])
            self.step = resume["step"]
            if not self.fixed_from_data:
                self.fixed = resume["fixed_inputs"]
            self.window = {**self._empty_window(), **resume.get("log_window", {})}
            checkpoint.set_rng_state(resume["rng"])  # rank 0's
            ranks = resume.get("rank_states") or []  # per-rank state of a torchrun run (any world size before)
            if ranks:
                self.recipe.load_rank_state(ranks[self.world.rank % len(ranks)])
            if len(ranks) == self.world.size and "rng" in ranks[self.world.rank]:
                checkpoint.set_rng_state(ranks[self.world.rank]["rng"])
            elif self.world.rank:  # another world size than before: a fresh stream of this rank's own
                torch.manual_seed(seed_of(t.seed, self.world.rank, self.step))

    @staticmethod
    def _empty_window() -> dict[str, Any]:
        # per-key counts: some scalars exist only on some steps (loss_g with n_critic > 1)
        return {"sums": {}, "counts": {}, "count": 0, "seconds": 0.0}

    # ----------------------------------------------------------------------------------------------
    def payload(self) -> dict[str, Any]:
        return {
            "recipe": self.cfg.recipe, "config": self.cfg.to_dict(), "step": self.step, "epoch": self.epoch,
            "data_info": to_plain(self.info), "state": self.recipe.state_dict(),
            "fixed_inputs": None if self.fixed_from_data else self.fixed,
            "rng": checkpoint.rng_state(),
            # the log window in progress, as plain floats (not device tensors)
            "log_window": {**self.window, "sums": {k: float(v) for k, v in self.window["sums"].items()},
                           "counts": dict(self.window["counts"])},
        }

    @property
    def epoch(self) -> int:
        """Epochs begun so far: 1 during (and at the end of) the first epoch."""
        return -(-self.step // self.data.steps_per_epoch)

    def save_checkpoint(self, epoch_file: bool) -> None:
        """Called on every rank (per-rank state is gathered); rank 0 writes."""
        rank_states = None
        if self.world.size > 1:  # each rank's random state and recipe state (CycleGAN's pools)
            rank_states = distributed.gather({"rng": checkpoint.rng_state(), **self.recipe.rank_state()}, self.world.size)
        if not self.main:
            return
        payload = self.payload()
        if rank_states:
            payload["rank_states"] = rank_states
        checkpoint.save(self.run_dir / "last.pt", payload)
        if epoch_file:
            ckdir = self.run_dir / "checkpoints"
            checkpoint.save(ckdir / f"epoch_{self.epoch:03d}.pt",
                            payload if self.cfg.train.full_checkpoints else checkpoint.slim(payload))
            self._prune_checkpoints()

    def _prune_checkpoints(self) -> None:
        keep = self.cfg.train.keep_checkpoints
        old = sorted((self.run_dir / "checkpoints").glob("epoch_*.pt"))
        for p in old[: max(0, len(old) - keep)] if keep else []:
            p.unlink()

    def restore_epoch_checkpoint(self, ckpt_step: int) -> None:
        """At resume: when last.pt ends an epoch but that epoch's checkpoint is missing (the process was killed
        between writing the two), write it again from last.pt."""
        if not ckpt_step or (ckpt_step % self.data.steps_per_epoch and ckpt_step != self.total_steps):
            return
        path = self.run_dir / "checkpoints" / f"epoch_{self.epoch:03d}.pt"
        if path.exists():
            return

        if self.cfg.train.full_checkpoints:
            def copy(f: Any) -> None:
                with open(self.run_dir / "last.pt", "rb") as src:
                    shutil.copyfileobj(src, f, 1 << 20)

            atomic_write(path, copy, fsync=True)
        else:
            checkpoint.save(path, checkpoint.slim(checkpoint.load(self.run_dir / "last.pt")))
        self._prune_checkpoints()
        warnings.warn(f"{path} was lost to an interrupted write; written again from last.pt", stacklevel=2)

    def last_good(self) -> str:
        return last_good(self.run_dir)

    def write_samples(self, log: RunLog) -> None:
        """The epoch's sample grid (and validation scores): on their own RNG stream, so that test-time
        randomness such as pix2pix's dropout neither disturbs training nor varies between runs."""
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.cfg.train.seed + Stream.EPOCH_END)
            self._write_samples(log)

    def _write_samples(self, log: RunLog) -> None:
        if self.val is not None:
            scores = self.recipe.evaluate(self.val.ordered(16))
            if scores:
                log.log(self.step, {k: round(v, 6) for k, v in scores.items()})
        out = self.recipe.preview(self.fixed)
        # a run stopped inside an epoch (train.steps) names its grid by the step too: that epoch is not done
        partial = f"_step_{self.step:06d}" if self.step % self.data.steps_per_epoch else ""
        path = self.run_dir / "samples" / f"epoch_{self.epoch:03d}{partial}.png"
        if self.info.points:  # 2-D toys: a scatter over the real density, and the mode metrics
            from .data.toy import mode_metrics, scatter_png

            points = out.float().cpu().numpy()
            scatter_png(points, self.data.toy, path, title=f"{self.cfg.recipe}, epoch {self.epoch}, step {self.step}")
            log.log(self.step, {k: round(float(v), 6) for k, v in mode_metrics(points, self.data.toy).items()})
            return
        grid = make_grid(out, nrow=self.nrow, scale=None)  # enlarged for people (data.images.display_scale)
        save_image(grid, path)
        log.image("samples", grid, self.step)

    def evaluate(self, log: RunLog) -> None:
        """Score this epoch's checkpoint (eval.*), append it to eval.jsonl, log the scores, keep best.pt."""
        from . import eval_log
        from . import evaluate as ev
        from .metrics import parse_metrics

        e = self.cfg.eval
        ckpt = self.run_dir / "checkpoints" / f"epoch_{self.epoch:03d}.pt"
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            row = ev.evaluate_checkpoint(ckpt, parse_metrics(e.metrics), self.extractor, e.real or None, None, e.n,
                                         self.cfg.train.seed, str(self.device))
        eval_log.append_rows(self.run_dir, [row])
        log.log(self.step, {f"eval/{k}": round(v, 6) for k, v in row.items() if isinstance(v, float)})
        eval_log.update_best(self.run_dir, row)

    def _refresh_report(self) -> None:
        """report.html for watching the run; a failure to draw it warns and never stops training."""
        from .report import build_report

        try:
            build_report(self.run_dir)
        except Exception as e:  # noqa: BLE001 - the report is a view; the run goes on
            warnings.warn(f"report.html not refreshed: {' '.join(str(e).split())[:200]}", stacklevel=2)

    def write_facts(self, **extra: Any) -> None:
        path = self.run_dir / "run.json"
        facts = read_json(path, missing={}, damaged={})  # a damaged run.json (warned) is written anew
        facts = facts if isinstance(facts, dict) else {}
        t = self.cfg.train
        facts.update({"recipe": self.cfg.recipe, "data": self.data.description, "images": self.data.n,
                      "val_data": self.val.description if self.val is not None else None,
                      "class_names": self.data.class_names, "steps_per_epoch": self.data.steps_per_epoch,
                      "total_steps": self.total_steps, "device": str(self.device), "torch": str(torch.__version__),
                      "python": platform.python_version(), "argv": sys.argv, "precision": self.recipe.precision,
                      "channels_last": self.recipe.channels_last, "compile": t.compile, "world_size": self.world.size,
                      "batch_per_rank": t.batch_size // self.world.size, **extra})
        atomic_write(path, json.dumps(facts, indent=1))

    # ----------------------------------------------------------------------------------------------
    def _check_finite(self) -> None:
        sums = self.window["sums"]
        finite = not sums or bool(torch.isfinite(torch.stack([torch.as_tensor(v).float().cpu() for v in sums.values()])).all())
        if self.world.size > 1:
            finite = not distributed.any_rank(not finite)
        if not finite:
            self._flush_window(None, None)  # raises, naming the scalar and the step

    def _flush_window(self, log: RunLog | None, bar: Any) -> None:
        """Window means -> one metrics row (a single host sync per window)."""
        w = self.window
        if not w["count"]:
            return
        keys = list(w["sums"])
        counts = torch.tensor([w["counts"][k] for k in keys], dtype=torch.float64)
        dtype = torch.float32 if self.device.type == "mps" else torch.float64  # MPS has no float64
        sums = torch.stack([torch.as_tensor(w["sums"][k], dtype=dtype, device=self.device) for k in keys]).double()
        if self.world.size > 1:  # the means over all ranks (every rank logs the same keys at the same steps)
            sums = distributed.mean_over_ranks(sums, self.world.size)
        means = (sums.cpu() / counts).tolist()
        bad = [k for k, v in zip(keys, means) if not math.isfinite(v)]
        if bad:
            good = self.last_good()
            good = good + ", left intact" if good.startswith("the last") else good
            raise GanforgeError(f"{bad[0]} became {means[keys.index(bad[0])]} by step {self.step} (steps "
                                f"{self.step - w['count'] + 1}-{self.step}); training stopped; {good}. Try a lower "
                                f"optim.lr, or a gradient penalty")
        row = {k: round(v, 6) for k, v in zip(keys, means)}
        for name, opt in self.recipe.optimizers.items():  # the learning rates in force (decays, schedules)
            row[f"lr_{name}"] = float(f"{opt.param_groups[0]['lr']:.6g}")
        row["epoch"] = round(self.step / self.data.steps_per_epoch, 4)
        row["images_per_s"] = round(w["count"] * self.cfg.train.batch_size / max(w["seconds"], 1e-9), 2)
        if log is None:
            return
        log.log(self.step, row)
        if bar is not None:
            bar.set_postfix({k: f"{v:.3g}" for k, v in row.items() if k != "epoch"}, refresh=False)
        self.window = self._empty_window()

    def fit(self) -> str:
        """Train until ``total_steps``; returns 'done' or the name of the signal that stopped the run. A full disk
        stops the run with a one-line error naming the file and the last good checkpoint; the run directory's
        lock is released however the run ends."""
        try:
            return self._fit()
        except (DiskFullError, OSError) as e:
            if not isinstance(e, DiskFullError) and not is_disk_full(e):
                raise
            raise disk_full(e, self.run_dir) from None
        finally:
            if self.lock is not None:
                self.lock.release()

    def _fit(self) -> str:
        t, run_dir = self.cfg.train, self.run_dir
        resume_step = self.step if self.step else None
        wandb = None
        if t.wandb and self.main:  # one W&B run per run directory: a resumed run continues it
            facts = read_json(run_dir / "run.json", missing={}, damaged={})
            run_id = (facts.get("wandb_id") if isinstance(facts, dict) else None) or uuid.uuid4().hex[:12]
            self.write_facts(wandb_id=run_id)
            wandb = {"project": t.wandb_project, "id": run_id, "name": run_dir.name, "config": self.cfg.to_dict()}
        log: Any = RunLog(run_dir, t.tensorboard, resume_step, wandb) if self.main else _NoLog()
        if self.main:
            self.write_facts(**({"started": time.time()} if resume_step is None else {"resumed_at_step": self.step}))
        bar = None
        if t.progress and self.main:
            from .progress import bar as progress_bar

            bar = progress_bar(self.total_steps, self.step, "step", "train")
        batches = self.data.batches(self.step)
        status, start_wall, start_step = "done", time.time(), self.step
        with _StopSignal() as stop:
            try:
                tick = time.perf_counter()
                while self.step < self.total_steps:
                    # One step: the recipe does all of D/G; the loop only keeps score.
                    scalars = self.recipe.train_step(next(batches))
                    self.step += 1
                    sums, counts = self.window["sums"], self.window["counts"]
                    for k, v in scalars.items():
                        sums[k] = sums[k] + v if k in sums else v
                        counts[k] = counts.get(k, 0) + 1
                    self.window["count"] += 1
                    if bar is not None:
                        bar.update(1)
                    end_of_epoch = self.step % self.data.steps_per_epoch == 0 or self.step == self.total_steps
                    if self.step % t.log_every == 0 or end_of_epoch:  # the same rows however a run is split
                        now = time.perf_counter()
                        self.window["seconds"] += now - tick
                        tick = now
                        self._flush_window(log, bar)
                    if end_of_epoch:  # the window was just flushed: sampling and saving are not timed
                        self.end_epoch(log)
                        tick = time.perf_counter()
                    if self.world.size > 1 and distributed.any_rank(bool(stop.requested)):
                        stop.requested = stop.requested or "SIGTERM"  # another rank was stopped
                    if stop.requested and self.step < self.total_steps:
                        status = stop.requested
                        self.window["seconds"] += time.perf_counter() - tick
                        self._check_finite()  # never save a checkpoint over NaN weights
                        self.save_checkpoint(epoch_file=False)
                        distributed.barrier()
                        break
            finally:
                if bar is not None:
                    bar.close()
                try:
                    log.close()
                except OSError:  # a full disk while flushing: the error that stopped the run is the one to show
                    pass
        if self.main:
            self.write_facts(last_step=self.step, wall_seconds=round(time.time() - start_wall, 1),
                             steps_this_session=self.step - start_step, status=status)
            self._draw()  # the final curves, status and wall time (a run stopped inside an epoch too)
        distributed.shutdown()
        return status

    def end_epoch(self, log: Any) -> None:
        """Schedulers step; then rank 0 samples, saves, evaluates and draws while the other ranks wait."""
        self.recipe.end_epoch(self.epoch)
        if self.world.size > 1:
            distributed.average_buffers(self.recipe.nets.values(), self.world.size)
        if self.main:
            self.write_samples(log)
        self.save_checkpoint(epoch_file=True)
        if self.main:
            if self.cfg.eval.every and self.epoch % self.cfg.eval.every == 0:
                self.evaluate(log)
            # losses.png and report.html take 0.5-1 s to draw: at most every DRAW_EVERY_S seconds (and at the end)
            if time.monotonic() - self._drawn_at >= DRAW_EVERY_S:
                self._draw()
        distributed.barrier()

    def _draw(self) -> None:
        plot_losses(self.run_dir)
        if self.cfg.train.report:
            self._refresh_report()
        self._drawn_at = time.monotonic()


def start(cfg: Config, run_dir: Path, force: bool = False, init: str | None = None) -> Trainer:
    """A new run in ``run_dir``: the folder is locked and checked, the resolved config saved."""
    init_ckpt = checkpoint.load(init, expect_recipe=cfg.recipe) if init else None
    lock = RunLock(run_dir).acquire() if is_main_rank() else None  # one writer per run directory
    try:
        existing = check_run_dir(run_dir, force)  # every rank checks before rank 0 can pass the group's rendezvous
        trainer = Trainer(cfg, run_dir, init=init_ckpt)  # bad data or settings fail here, before any file is written
        if trainer.main:
            prepare_run_dir(run_dir, existing)
            save_yaml(cfg, run_dir / "config.yaml")
    except BaseException:
        if lock is not None:
            lock.release(remove_created=True)
        raise
    trainer.lock = lock
    distributed.barrier()
    return trainer


def resume(run_dir: Path, overrides: dict[str, Any] | None = None) -> Trainer:
    """Continue the run in ``run_dir`` from its ``last.pt``; only a few train.* keys may change."""
    if run_dir.exists() and not run_dir.is_dir():
        raise GanforgeError(f"{str(run_dir)!r} is a file, not a run directory (for a checkpoint file, resume its "
                            f"folder)")
    if not run_dir.is_dir():
        raise GanforgeError(f"run directory {str(run_dir)!r} does not exist")
    lock = RunLock(run_dir).acquire() if is_main_rank() else None
    try:
        if lock is not None:
            ensure_writable_dir(run_dir, "run directory")
            swept = sweep_temp(*(run_dir / d for d in TEMP_DIRS))
            if swept:
                warnings.warn(f"removed {len(swept)} temp file(s) left by an interrupted write in {run_dir} (first: "
                              f"{swept[0].name})", stacklevel=2)
        trainer = _resume(run_dir, overrides)
    except BaseException as e:
        if lock is not None:
            lock.release()
        if isinstance(e, DiskFullError) or is_disk_full(e):
            raise disk_full(e, run_dir) from None
        raise
    trainer.lock = lock
    return trainer


def _resume(run_dir: Path, overrides: dict[str, Any] | None) -> Trainer:
    from .config import load_file, merge
    from .configure import from_dict

    if not (run_dir / "last.pt").is_file() and not has_checkpoint(run_dir):
        raise GanforgeError(f"{run_dir} has no checkpoint to resume from (the run stopped before its first one); "
                            f"start it again with `ganforge train ... --out {run_dir}`")
    ckpt = checkpoint.load(run_dir / "last.pt", for_resume=True)
    saved = ckpt["config"]
    if (run_dir / "config.yaml").is_file():
        on_disk = load_file(run_dir / "config.yaml")
        if on_disk.get("recipe") != ckpt["recipe"]:
            raise GanforgeError(f"{run_dir / 'last.pt'} was written by recipe {ckpt['recipe']!r} but "
                                f"{run_dir / 'config.yaml'} says {on_disk.get('recipe')!r}")
    for section, values in (overrides or {}).items():
        for key in values if isinstance(values, dict) else [""]:
            if f"{section}.{key}" not in RESUME_KEYS:
                raise GanforgeError(f"{section}.{key} cannot change on resume; allowed: {', '.join(RESUME_KEYS)}")
    try:
        cfg = from_dict(merge(saved, overrides or {}))
    except GanforgeError as e:
        raise GanforgeError(f"{run_dir / 'last.pt'}: {e}") from None
    trainer = Trainer(cfg, run_dir, resume=ckpt)
    if trainer.main:  # after the rendezvous: every rank has read config.yaml
        save_yaml(cfg, run_dir / "config.yaml")
        trainer.restore_epoch_checkpoint(ckpt["step"])
    return trainer
