"""``ganforge bench``: how fast each recipe trains on this machine, and whether the model or the data limits it.

Each recipe runs in two configurations, both built from a preset and resolved and validated exactly as
``ganforge train`` resolves them (each recipe's ``bench_configs``): ``paper``, the paper's architecture, image size and batch
(DCGAN 64x64 batch 128, WGAN-GP 64x64 batch 64, the MNIST MLP GANs 28x28 batch 64, pix2pix U-Net-256 with a
70x70 PatchGAN and CycleGAN ResNet-9 at 256x256 batch 1), and ``small``, a cheap one; or one preset. The data
is offline (``builtin:pizza``, drawn at the configured load size, kept on the device) unless told otherwise.

What is measured:

* **ms/step, img/s**: wall-clock time of ``recipe.train_step(batch)`` on the recipe and data that
  :class:`ganforge.trainer.Trainer` builds from the config, after ``warmup`` untimed rounds. The batch is
  fetched before the clock starts (the data path is timed on its own, below); on CUDA the device is
  synchronised before and after each step (here only, never in training). A round is one step, or
  ``model.n_critic`` steps for recipes that update G once per n_critic D updates (WGAN-GP: 5), so that every
  round holds one G update (and ``model.reg_every`` steps for r3gan's lazy R1 + R2: one regularised step a
  round). ms/step is the median round time divided by its steps; img/s = batch / that.
* **GFLOP/step, GFLOP/s**: FLOPs of one extra, untimed round, counted by
  :class:`torch.utils.flop_counter.FlopCounterMode` and divided by its steps: matrix multiplications and
  convolutions (transposed ones too) in the forward pass, the backward pass and the double backward of
  gradient penalties, 2 FLOPs per multiply-add. Elementwise ops, normalisation, activations, losses,
  optimizer updates and the EMA of G are not counted: it is the networks' FLOPs, a lower bound on the work.
  GFLOP/s = FLOPs per step / median step time: compare it with the hardware's peak to see the utilisation.
* **peak memory**: on CUDA ``torch.cuda.max_memory_allocated`` over the whole configuration (weights,
  optimizer state, activations, the data set on the device). Elsewhere the process's peak resident set size
  (``ru_maxrss``), which includes Python and torch themselves (``rss_base_mib`` in the JSON: the peak before
  the configuration was built) and never goes down; so each configuration runs in a fresh
  ``python -m ganforge.bench`` worker. With ``in_process`` the CPU peak is cumulative over the rows run so far.
* **data img/s**: batches drawn from ``data.batches()`` alone, median time per batch (synchronised on CUDA).
  ``bound`` is ``data`` when the data path delivers fewer images/s than the step consumes, else ``model``.
  In-memory batches are made in the training thread, between steps, so a data path less than twice as fast
  as the step still costs a visible share of the throughput: the table notes it.

``train.precision`` (autocast dtype), ``train.channels_last`` and ``train.compile`` are config settings: the
bench passes them through the config (``--precision``, or KEY=VALUE overrides) and records the setting and
what the trainer resolved it to here (``auto``: bf16 where the hardware runs it natively, else fp32).

Other processes on the machine slow every timing, on a CPU many times over (the threads of oneDNN/OpenMP wait
for each other): each row records how long its threads waited for a core while timed (``cpu_wait_per_s``,
from Linux's schedstat), and the table names the rows where they waited more than :data:`STARVED` of the time.
Benchmarks are numbers for people: no test asserts a duration.

torch is imported inside the functions that use it.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import presets
from .config import Config, TrainConfig, parse_override
from .configure import from_dict, resolve
from .errors import GanforgeError, choices_error

CONFIG_NAMES = ("paper", "small")
SIZES = (32, 64, 128, 256)  # what --size accepts
PRECISIONS: tuple[str, ...] = typing.get_args(typing.get_type_hints(TrainConfig)["precision"])
# A row is suspect when the bench's threads waited for a CPU more than STARVED seconds per second timed, and
# STARVED_MIN_S in all (one preemption of a few ms must not flag a row timed for 30 ms)
STARVED, STARVED_MIN_S = 0.1, 0.05
MAX_BUILTIN_N = 2048  # images generated per configuration at most: batches cycle through them



def bench_table() -> dict[str, dict[str, tuple[str, dict[str, Any]]]]:
    """recipe -> configuration -> (the preset it starts from, a config layer on top of it), from each registered
    recipe's ``bench_configs`` (they live beside the recipe)."""
    from .recipes import RECIPES

    return {name: dict(cls.bench_configs) for name, cls in RECIPES.items() if cls.bench_configs}


@dataclass(frozen=True)
class Case:
    """One row to measure: a resolved config and how long to time it."""

    recipe: str
    config: str  # paper | small | the preset's name
    preset: str  # the preset the config starts from
    cfg: Config
    steps: int
    warmup: int

    @property
    def label(self) -> str:
        return f"{self.recipe} {self.config}" if self.config in CONFIG_NAMES else f"preset {self.config}"


def recipe_names() -> list[str]:
    """The registered recipes that have benchmark configurations, in registration order."""
    return list(bench_table())


def _period(cfg: Config) -> int:
    """Steps per round: recipes with n_critic > 1 update G on every n_critic-th step only, and r3gan with
    reg_every > 1 adds R1 + R2 on every reg_every-th step: a round holds one of each."""
    return math.lcm(max(1, int(getattr(cfg.model, "n_critic", 1))), max(1, int(getattr(cfg.model, "reg_every", 1))))


def _resolve(label: str, layers: list[dict[str, Any]]) -> Config:
    try:
        return resolve(layers)
    except GanforgeError as e:
        raise GanforgeError(f"{label}: {e}") from None


def _size_layer(base: Config, size: int) -> dict[str, Any]:
    """--size: the crop, the load size scaled alike (286/256 stays 286/256), and a U-Net as deep as the size
    needs (unet_N takes N x N inputs down to 1x1)."""
    d = base.data
    layer: dict[str, Any] = {"data": {"image_size": size,
                                      "load_size": round(d.load_size * size / d.image_size) if d.load_size else 0}}
    generator = str(getattr(base.model, "generator", ""))
    if generator.startswith("unet_"):
        from .nets.unet import UNET_DEPTHS

        if f"unet_{size}" in UNET_DEPTHS:
            layer["model"] = {"generator": f"unet_{size}"}
    return layer


def _case(recipe: str, config: str, preset_name: str, extra: dict[str, Any], *, size: int | None, batch: int | None,
          precision: str | None, device: str, data: str | None, overrides: list[dict[str, Any]], steps: int,
          warmup: int) -> Case:
    from .recipes import RECIPES

    label = f"{recipe} {config}" if config in CONFIG_NAMES else f"preset {config}"
    layers: list[dict[str, Any]] = [{"name": preset_name, **presets.get(preset_name).layer}, extra]
    base = _resolve(label, layers)
    offline = base.data.source.startswith(("builtin:", "toy:"))
    source = data or (base.data.source if offline else "builtin:pizza")
    data_layer: dict[str, Any] = {"source": source}
    if RECIPES.get(base.recipe).data_kind == "pairs" and source.startswith("builtin:") \
            and base.data.pairs not in ("colorize", "edges"):
        data_layer["pairs"] = "edges"  # built-in images give pairs by deriving the input from the target
    layers.append({"data": data_layer})
    if size is not None:
        if source.startswith("toy:"):
            raise GanforgeError(f"--size {size}: {label} trains on 2-D points, which have no image size")
        layers.append(_size_layer(base, size))
    if batch is not None:
        layers.append({"train": {"batch_size": batch}})
    # no validation set: the bench never scores one, and building it would only cost time
    layers.append({"train": {"device": device, "val_images": 0, **({"precision": precision} if precision else {})}})
    cfg = _resolve(label, [*layers, *overrides])
    if source.startswith(("builtin:", "toy:")) and not any("builtin_n" in o.get("data", {}) for o in overrides):
        # enough generated images for every batch to be new, within MAX_BUILTIN_N (then batches cycle)
        b = cfg.train.batch_size
        n = max(b, min(MAX_BUILTIN_N, b * _period(cfg) * (warmup + steps + 2)))
        cfg = _resolve(label, [*layers, {"data": {"builtin_n": n}}, *overrides])
    return Case(cfg.recipe, config, preset_name, cfg, steps, warmup)


def plan(recipes: Sequence[str] | None = None, preset: str | None = None, configs: Sequence[str] | None = None,
         size: int | None = None, batch: int | None = None, precision: str | None = None, device: str = "auto",
         data: str | None = None, overrides: Sequence[str] = (), steps: int = 10, warmup: int = 3) -> list[Case]:
    """The configurations to measure, each resolved and validated before anything runs; bad input raises
    :class:`GanforgeError` naming the bad value and the allowed ones."""
    if steps < 1:
        raise GanforgeError(f"--steps must be >= 1; got {steps}")
    if warmup < 0:
        raise GanforgeError(f"--warmup must be >= 0; got {warmup}")
    if batch is not None and batch < 1:
        raise GanforgeError(f"--batch must be >= 1; got {batch}")
    if size is not None and size not in SIZES:
        raise GanforgeError(f"--size {size} is not allowed; choices: {', '.join(map(str, SIZES))}")
    if precision is not None and precision not in PRECISIONS:
        raise GanforgeError(f"--precision {precision!r} is not allowed; choices: {', '.join(PRECISIONS)}")
    parsed = [parse_override(o) for o in overrides]
    if preset is not None:
        if recipes or configs:
            raise GanforgeError(f"--preset {preset} benchmarks that preset alone: give it without --recipe and --configs")
        jobs = [(presets.get(preset).layer["recipe"], preset, preset, {})]
    else:
        known = recipe_names()
        for r in recipes or []:
            if r not in known:
                from .recipes import RECIPES

                if r in RECIPES:
                    raise GanforgeError(f"recipe {r!r} has no benchmark configurations; benchmark one of its presets "
                                        f"with --preset NAME")
                raise choices_error("recipe", r, known)
        for c in configs or []:
            if c not in CONFIG_NAMES:
                raise choices_error("configuration", c, CONFIG_NAMES)
        table = bench_table()
        jobs = [(r, c, *table[r][c]) for r in dict.fromkeys(recipes or known) for c in dict.fromkeys(configs or CONFIG_NAMES)]
    return [_case(r, c, p, extra, size=size, batch=batch, precision=precision, device=device, data=data,
                  overrides=parsed, steps=steps, warmup=warmup) for r, c, p, extra in jobs]


# --------------------------------------------------------------------------------------------------
# Measuring one configuration


class _GlobalOnly:
    """Stands in for FlopCounterMode's per-module tracker, whose autograd hooks break ``torch.autograd.grad``
    (the double backward of gradient penalties); only the total is needed."""

    parents = frozenset({"Global"})

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of the matmuls and convolutions (forward and backward) that ``fn()`` runs; see the module docstring."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    if hasattr(counter, "mod_tracker"):
        counter.mod_tracker = _GlobalOnly()
    with counter:
        fn()
    return int(counter.get_total_flops())


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _peak_rss_mib() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def _runqueue_wait_s() -> float | None:
    """Seconds this process's threads have spent runnable but waiting for a CPU (Linux schedstat), or None."""
    total = 0.0
    try:
        for task in Path("/proc/self/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[1]) / 1e9
            except (OSError, IndexError, ValueError):
                continue  # a thread that just ended
    except OSError:
        return None
    return total


def measure(cfg: Config, steps: int = 10, warmup: int = 3) -> dict[str, Any]:
    """Time ``cfg``'s training step and data path in this process (see the module docstring); the numbers of a row."""
    import torch

    from .trainer import Trainer, pick_device

    rss_base = _peak_rss_mib()
    device = pick_device(cfg.train.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with tempfile.TemporaryDirectory() as tmp:  # the trainer writes nothing before fit(); a folder all the same
        trainer = Trainer(cfg, Path(tmp) / "run")
    recipe, data, device = trainer.recipe, trainer.data, trainer.device
    trainer_precision = trainer.recipe.precision
    period, b = _period(cfg), cfg.train.batch_size
    batches = data.batches(0)

    def one_round() -> float:
        seconds = 0.0
        for _ in range(period):
            batch = next(batches)
            _sync(device)
            start = time.perf_counter()
            recipe.train_step(batch)  # as Trainer.fit calls it
            _sync(device)
            seconds += time.perf_counter() - start
        return seconds

    for _ in range(warmup):
        one_round()
    try:
        flops: float | None = count_flops(one_round) / period
    except Exception:  # noqa: BLE001 - e.g. a compiled network the counter cannot follow: timings still count
        flops = None
    waited, start = _runqueue_wait_s(), time.perf_counter()
    step_s = [one_round() / period for _ in range(steps)]
    waited = None if waited is None else (_runqueue_wait_s() or 0.0) - waited
    wall = time.perf_counter() - start
    if device.type == "cuda":
        peak, kind = torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    else:
        peak, kind = _peak_rss_mib(), "process_peak_rss"

    loader = data.batches(0)  # the data path alone
    next(loader)
    data_s = []
    for _ in range(steps * period):
        _sync(device)
        start = time.perf_counter()
        next(loader)
        _sync(device)
        data_s.append(time.perf_counter() - start)
    step, fetch = statistics.median(step_s), statistics.median(data_s)
    return {
        # what the trainer made of train.precision here (auto: bf16 where the hardware runs it natively)
        "device": str(device), "precision_resolved": str(trainer_precision),
        "channels_last_resolved": bool(trainer.recipe.channels_last),
        "ms_per_step": step * 1e3, "images_per_s": b / step, "ms_per_step_samples": [round(s * 1e3, 3) for s in step_s],
        "peak_mem_mib": peak, "peak_mem_kind": kind, "rss_base_mib": rss_base,
        "flop_per_step": flops, "gflop_per_step": None if flops is None else flops / 1e9,
        "gflop_per_s": None if flops is None else flops / step / 1e9,
        "data_ms_per_batch": fetch * 1e3, "data_images_per_s": b / fetch,
        "bound": "data" if b / fetch < b / step else "model",
        # time this process's threads spent ready but waiting for a CPU, per second of the timed rounds (Linux)
        "cpu_wait_s": waited, "cpu_wait_per_s": None if waited is None else waited / wall,
    }


# --------------------------------------------------------------------------------------------------
# Running the rows: each in a fresh worker process (its own peak RSS), or all in this one


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _in_worker(case: Case) -> dict[str, Any]:
    """``python -m ganforge.bench SPEC OUT`` measures one configuration; its errors come back as one line."""
    with tempfile.TemporaryDirectory() as tmp:
        spec, out = Path(tmp) / "spec.json", Path(tmp) / "row.json"
        spec.write_text(json.dumps({"config": case.cfg.to_dict(), "steps": case.steps, "warmup": case.warmup}))
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[1])  # the worker imports this very ganforge
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
        p = subprocess.run([sys.executable, "-m", "ganforge.bench", str(spec), str(out)], check=False,
                           capture_output=True, text=True, env=env)
        if out.is_file():
            result = json.loads(out.read_text())
            if result.get("bad_input"):  # bad data or settings: the user's to fix, like in `ganforge train`
                raise GanforgeError(f"{case.label}: {result['error']}")
            return result
    if p.returncode < 0:
        import signal

        why = f"was killed by {signal.Signals(-p.returncode).name}" + (" (out of memory?)" if p.returncode == -9 else "")
    else:
        why = f"exited with code {p.returncode}"
    last = next((line.strip() for line in reversed(p.stderr.splitlines()) if line.strip()), "")
    return {"error": f"the worker {why}" + (f": {last}" if last else "")}


def _worker_main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m ganforge.bench SPEC.json OUT.json (a worker of `ganforge bench`)", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    try:
        result = measure(from_dict(spec["config"]), spec["steps"], spec["warmup"])
    except GanforgeError as e:
        result = {"error": _one_line(e), "bad_input": True}
    except Exception as e:  # noqa: BLE001 - out of memory, a failing kernel: one line in the row
        result = {"error": f"{type(e).__name__}: {_one_line(e)}"}
    Path(argv[1]).write_text(json.dumps(result))
    return 1 if "error" in result else 0


def _free_cuda_cache() -> None:
    """Between in-process rows: the last row's tensors are gone, give their cached blocks back."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run(cases: Sequence[Case], in_process: bool = False,
        on_row: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Measure every case; a row that fails at run time (out of memory...) carries ``error`` and the rest go on.
    Bad data or settings raise :class:`GanforgeError`."""
    rows = []
    for case in cases:
        c = case.cfg
        row: dict[str, Any] = {
            "recipe": case.recipe, "config": case.config, "preset": case.preset,
            "size": None if c.data.source.startswith("toy:") else c.data.image_size, "channels": c.data.channels,
            "batch": c.train.batch_size, "precision": c.train.precision, "channels_last": c.train.channels_last,
            "compile": c.train.compile, "steps": case.steps, "warmup": case.warmup, "steps_per_round": _period(c),
            "data": c.data.source,
        }
        if not in_process:
            row.update(_in_worker(case))
        else:
            try:
                row.update(measure(c, case.steps, case.warmup))
            except GanforgeError as e:
                raise GanforgeError(f"{case.label}: {e}") from None
            except Exception as e:  # noqa: BLE001 - as in a worker: one line in the row, the other rows go on
                row["error"] = f"{type(e).__name__}: {_one_line(e)}"
            _free_cuda_cache()
            if row.get("peak_mem_kind") == "process_peak_rss":
                row["peak_mem_kind"] = "process_peak_rss_cumulative"
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


# --------------------------------------------------------------------------------------------------
# Reporting


def environment(device: str = "auto") -> dict[str, Any]:
    """Where the numbers were taken: versions, the device, the CPU and its threads."""
    import torch

    from .trainer import pick_device

    dev = pick_device(device)
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        load = round(os.getloadavg()[0], 2)  # other work on the machine skews every timing (threads compete)
    except (AttributeError, OSError):
        load = None
    return {
        "torch": str(torch.__version__), "python": platform.python_version(), "platform": platform.platform(),
        "device": str(dev), "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu,
        "cuda": torch.version.cuda, "cpu": cpu, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "load_average_1min": load, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_json(path: str | Path, rows: list[dict[str, Any]], env: dict[str, Any]) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps({"environment": env, "rows": rows}, indent=1), encoding="utf-8")
    return p


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


COLUMNS = ("recipe", "config", "size", "batch", "precision", "ms/step", "img/s", "peak MiB", "GFLOP/step", "GFLOP/s",
           "data img/s", "bound")


def format_table(rows: list[dict[str, Any]], env: dict[str, Any] | None = None) -> str:
    """The rows as an aligned text table, with what the columns mean and any notes below it."""
    lines, notes = [], []
    for r in rows:
        prec = r["precision"] if r["precision"] != "auto" or "precision_resolved" not in r else \
            f"auto:{r['precision_resolved']}"
        head = [r["recipe"], r["config"], "-" if r["size"] is None else str(r["size"]), str(r["batch"]), prec]
        if "error" in r:
            lines.append(head + ["failed"] + [""] * (len(COLUMNS) - 6))
            notes.append(f"{r['recipe']} {r['config']} failed: {r['error']}")
            continue
        lines.append(head + [_num(r[k]) for k in ("ms_per_step", "images_per_s", "peak_mem_mib", "gflop_per_step",
                                                   "gflop_per_s", "data_images_per_s")] + [r["bound"]])
        if r["bound"] == "model" and r["data_images_per_s"] < 2 * r["images_per_s"]:
            notes.append(f"{r['recipe']} {r['config']}: the data path is less than twice as fast as the step "
                         f"(batches are made between steps, so it costs up to a third of the throughput)")
    widths = [max(len(c), *(len(line[i]) for line in lines)) if lines else len(c) for i, c in enumerate(COLUMNS)]
    text = ["  ".join(c.ljust(w) if i < 5 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
            for line in [list(COLUMNS), *lines]]
    kinds = {r.get("peak_mem_kind") for r in rows} - {None}
    mem = {"cuda_max_allocated": "CUDA max allocated", "process_peak_rss": "peak RSS of a fresh process per row",
           "process_peak_rss_cumulative": "peak RSS of this process, cumulative over the rows above"}
    text.append("")
    if env:
        text.append(f"device {env['device']} ({env['device_name']}), torch {env['torch']}, {env['torch_threads']} threads")
    steps = {(r["steps"], r["warmup"]) for r in rows}
    text.append("ms/step: median of " + " / ".join(f"{s} timed rounds after {w} warm-up" for s, w in sorted(steps))
                + "; GFLOP: matmuls and convolutions, forward and backward (FlopCounterMode)"
                + (f"; memory: {', '.join(mem[k] for k in sorted(kinds))}" if kinds else ""))
    starved = [f"{r['recipe']} {r['config']}" for r in rows
               if (r.get("cpu_wait_per_s") or 0.0) > STARVED and (r.get("cpu_wait_s") or 0.0) > STARVED_MIN_S]
    if starved:
        notes.append(f"{', '.join(starved)}: other processes held the CPUs while timed (the bench's threads waited for "
                     f"a core over {STARVED:.0%} of the time); that can slow steps many times over: run on a quiet machine")
    text.extend(f"note: {n}" for n in notes)
    return "\n".join(line.rstrip() for line in text)


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
