"""The ``ganforge`` command: parse -> config -> call the library. Choices come from the registries.

Every user-facing error is a :class:`GanforgeError`, printed as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any, NoReturn, Sequence

from .errors import GanforgeError
from .kinds import Kind, as_generator

EPILOG = "overrides: dotted KEY=VALUE pairs, e.g. train.epochs=5 optim.lr=1e-4 data.image_size=64"


def _train_layers(args: argparse.Namespace) -> list[dict[str, Any]]:
    from . import presets
    from .config import load_file, parse_override

    file_layer = load_file(args.config) if args.config else {}
    overrides = [parse_override(o) for o in args.overrides]
    chosen_recipe = next((o["recipe"] for o in reversed(overrides) if "recipe" in o), file_layer.get("recipe"))
    preset_name = args.preset or file_layer.pop("preset", None)
    if preset_name is None and not args.config and chosen_recipe is None:
        preset_name = presets.DEFAULT  # `ganforge train` alone: the offline demo
    layers: list[dict[str, Any]] = []
    if preset_name:
        preset = presets.get(preset_name)
        if chosen_recipe is not None and chosen_recipe != preset.layer["recipe"]:
            raise GanforgeError(f"preset {preset_name} is for recipe {preset.layer['recipe']}, but recipe={chosen_recipe} "
                                f"was given; drop one of them")
        layers.append({"name": preset_name, **preset.layer})
        if preset.needs_data and args.data is None and "source" not in file_layer.get("data", {}):
            raise GanforgeError(f"preset {preset_name} needs data: pass --data PATH (an image folder)")
    layers.append(file_layer)
    if args.data is not None:  # --data "" is an error (data.source is empty), not the built-in default
        layers.append({"data": {"source": args.data}})
    layers.extend(overrides)
    return layers


def cmd_train(args: argparse.Namespace) -> int:
    from . import trainer
    from .configure import resolve

    cfg = resolve(_train_layers(args))
    if args.print_config:
        import yaml

        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
        return 0
    run_dir = Path(args.out) if args.out else Path("runs") / f"{cfg.name or cfg.recipe}-{time.strftime('%Y%m%d-%H%M%S')}"
    t = trainer.start(cfg, run_dir, force=args.force, init=args.init)
    return _finish(t)


def cmd_resume(args: argparse.Namespace) -> int:
    from . import trainer
    from .config import merge, parse_override

    overrides: dict[str, Any] = {}
    for o in args.overrides:
        overrides = merge(overrides, parse_override(o))
    return _finish(trainer.resume(Path(args.run_dir), overrides))


def _finish(t: Any) -> int:
    unit = getattr(t.data, "unit", "images")
    if not t.main:  # torchrun: rank 0 speaks for the run
        status = t.fit()
        return 0 if status == "done" else 130 if status == "SIGINT" else 143
    decay = t.cfg.optim.resolved_decay_epochs(t.cfg.train.epochs) if t.recipe.schedulers else 0  # linear-decay recipes
    print(f"ganforge: training {t.cfg.recipe} on {t.data.description}: {t.data.n} {unit}, "
          f"{t.data.steps_per_epoch} steps/epoch, step {t.step} of {t.total_steps}, device {t.device}, "
          + (f"lr decaying linearly over the last {decay} of {t.cfg.train.epochs} epochs, " if decay else "")
          + (f"streamed by {t.cfg.data.workers} worker(s) ({t.data.stream_reason}), " if not t.data.in_memory else "")
          + f"run dir {t.run_dir}", file=sys.stderr)
    status = t.fit()
    if status != "done":
        print(f"ganforge: stopped by {status} at step {t.step}; saved {t.run_dir / 'last.pt'}; "
              f"continue with: ganforge resume {t.run_dir}", file=sys.stderr)
        return 130 if status == "SIGINT" else 143
    print(f"ganforge: done, {t.step} steps; samples in {t.run_dir / 'samples'}, checkpoint {t.run_dir / 'last.pt'}",
          file=sys.stderr)
    return 0


MAX_GRID = 1024  # images in one grid PNG (32 x 32); more go one PNG each into a folder
MAX_POINTS = 1_000_000  # points a toy run writes to one CSV
MAX_PATH_SEEDS = 256  # seeds one interpolate strip or class sweep takes


def cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from .data.images import save_each, save_grid
    from .files import ensure_writable_dir
    from .sampling import (
        check_trunc,
        class_grid,
        class_index,
        load_recipe,
        parse_seeds,
        refuse_points_trunc,
        sample,
        sample_chunks,
        sample_seeds,
    )

    seeds = parse_seeds(args.seeds) if args.seeds is not None else None
    if seeds is not None and (args.n is not None or args.seed is not None):
        raise GanforgeError(f"--seeds {args.seeds} names the images itself: give either --seeds or --seed/--n, not both")
    args.n, args.seed = 64 if args.n is None else args.n, 0 if args.seed is None else args.seed
    psi = check_trunc(args.trunc)
    if args.n < 1:
        raise GanforgeError(f"--n must be >= 1; got {args.n}")
    if args.nrow is not None and args.nrow < 1:
        raise GanforgeError(f"--nrow must be >= 1; got {args.nrow}")
    recipe, _ = load_recipe(args.source, args.device)
    model = as_generator(recipe, args.source, "sample")
    refuse_points_trunc(recipe, psi)
    label = class_index(recipe, args.class_) if args.class_ is not None else None
    out = Path(args.out)
    if model.kind is Kind.POINTS:  # a toy run: points as CSV and a scatter plot
        if seeds is not None:
            raise GanforgeError(f"--seeds: {recipe.cfg.recipe} draws 2-D points, written as one CSV; use --n N --seed S")
        if args.n > MAX_POINTS:
            raise GanforgeError(f"--n {args.n}: a toy run writes at most {MAX_POINTS:,} points")
        ensure_writable_dir(out.parent, "--out folder")
        return _sample_points(recipe, args, out)
    count = len(seeds) if seeds is not None else args.n
    if args.out.endswith(("/", "\\")) or out.is_dir() or not out.suffix:  # one PNG per sample, written as made
        ensure_writable_dir(out, "--out folder")
        done = 0
        if seeds is not None:  # stylegan2-ada's names: seed0042.png
            for images in sample_seeds(recipe, seeds, label, psi):
                save_each(images, out, [f"seed{s:04d}.png" for s in seeds[done:done + len(images)]])
                done += len(images)
        else:
            for images in sample_chunks(recipe, args.n, args.seed, label, trunc=psi):
                save_each(images, out, [f"sample_{i:05d}.png" for i in range(done, done + len(images))])
                done += len(images)
        print(f"ganforge: wrote {done} images to {out}", file=sys.stderr)
        return 0
    if out.suffix.lower() != ".png":
        raise GanforgeError(f"--out {args.out!r}: a grid is written as .png; give NAME.png or a folder DIR/")
    if count > MAX_GRID:
        what = f"--seeds {args.seeds} names {count} images" if seeds is not None else f"--n {args.n}"
        raise GanforgeError(f"{what}: a grid holds at most {MAX_GRID} images; write them one PNG each with --out DIR/")
    ensure_writable_dir(out.parent, "--out folder")
    nrow = args.nrow
    if seeds is not None:  # one cell per seed, in the order given
        images = torch.cat(list(sample_seeds(recipe, seeds, label, psi)))
    elif model.kind is Kind.CONDITIONAL and label is None:
        images, cols = class_grid(recipe, args.n, args.seed, trunc=psi)  # one row per class
        nrow = nrow or cols
    else:
        images = sample(recipe, args.n, args.seed, label, trunc=psi)
    save_grid(images, out, nrow=nrow, scale=args.scale)
    print(f"ganforge: wrote a grid of {len(images)} images to {out}", file=sys.stderr)
    return 0


def _sample_points(recipe: Any, args: argparse.Namespace, out: Path) -> int:
    from .sampling import write_points

    if out.suffix.lower() not in (".csv", ".png"):
        raise GanforgeError(f"--out {args.out!r}: a toy run writes points as NAME.csv (and NAME.png beside it) "
                            f"or a scatter as NAME.png")
    csv, png, scores = write_points(recipe, args.n, args.seed, out)
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in scores.items())
    print(f"ganforge: wrote {args.n} points to {csv} and a scatter to {png}; {metrics}", file=sys.stderr)
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    from .translation import translate_files

    dropout = None if args.dropout is None else args.dropout == "on"
    written, direction = translate_files(args.source, args.input, args.out, args.direction, args.fit, args.aligned,
                                         dropout, args.seed, args.device)
    print(f"ganforge: translated {len(written)} image(s) {direction} into {args.out}", file=sys.stderr)
    return 0


def _print_rows(rows: list[dict]) -> None:
    from .evaluate import format_scores

    for r in rows:
        scores = format_scores(r)  # each score with its usual precision, KID as KIDx1000 (docs/metrics.md)
        where = f"epoch {r['epoch']} step {r['step']}: " if "epoch" in r else ""
        print(f"{where}{scores}")
    if rows:
        p = rows[-1]["protocol"]
        print("protocol: " + ", ".join(f"{k}={v}" for k, v in p.items()))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from . import eval_log
    from . import evaluate as ev
    from .metrics import parse_metrics, sample_count
    from .metrics.extractors import open_extractor

    metrics = parse_metrics(args.metrics)
    if args.n is None:
        args.n = sample_count(metrics)
    if args.n < 1:
        raise GanforgeError(f"--n must be >= 1; got {args.n}")
    if args.fake:
        if args.source or not args.real:
            raise GanforgeError("--fake DIR compares a folder with real data: give --real SPEC (a folder, mnist:PATH, "
                                "builtin:pizza, ...) and no run")
        ex = open_extractor(args.extractor, args.weights, args.device, args.bf16)
        row = ev.evaluate_folders(args.fake, args.real, metrics, ex, args.size, args.channels, args.n, args.seed, args.device,
                                  args.split)
        _print_rows([row])
        return 0
    if not args.source:
        raise GanforgeError("give a run directory or checkpoint to evaluate, or --fake DIR --real SPEC")
    source = Path(args.source)
    if not source.exists():
        raise GanforgeError(f"{args.source!r} does not exist")
    paths = eval_log.checkpoints_of(source, args.checkpoints)
    run_dir = eval_log.run_dir_of(source)
    lock = None
    if run_dir is not None and args.checkpoints == "all":  # writes best.pt, best.json and the curve: one writer
        from .runlock import RunLock

        lock = RunLock(run_dir).acquire()
    try:
        ex = open_extractor(args.extractor, args.weights, args.device, args.bf16) if ev.needs_extractor(paths[0]) else None
        rows = []
        for p in paths:
            rows.append(ev.evaluate_checkpoint(p, metrics, ex, args.real, args.split, args.n, args.seed, args.device))
            _print_rows(rows[-1:])
        if run_dir is not None:
            eval_log.append_rows(run_dir, rows)  # whole lines appended: safe beside a training run that appends its own
            if lock is not None:
                best = eval_log.mark_best(run_dir, rows)
                plot = eval_log.plot_metric(run_dir, rows, best)
                if best is not None:
                    print(f"ganforge: best checkpoint: epoch {best['epoch']} -> {run_dir / 'best.pt'}"
                          + (f"; curve in {plot}" if plot else ""), file=sys.stderr)
    finally:
        if lock is not None:
            lock.release()
    return 0


def cmd_classifier_train(args: argparse.Namespace) -> int:
    from .config import DataConfig
    from .metrics.classifier import train_classifier

    cfg = DataConfig(source=args.data, image_size=args.image_size, channels=args.channels, resize="shorter",
                     crop="center")
    out = train_classifier(cfg, Path(args.out), epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                           device=args.device)
    print(f"ganforge: classifier saved to {args.out}: test accuracy {out.get('test_accuracy', float('nan')):.4f}",
          file=sys.stderr)
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from . import explore
    from .data.images import save_grid
    from .files import ensure_writable_dir
    from .sampling import class_index, load_recipe

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise GanforgeError(f"--out {args.out!r}: the strip is written as NAME.png")
    if args.scale is not None and args.scale < 1:
        raise GanforgeError(f"--scale must be >= 1 (1: native size); got {args.scale}")
    ensure_writable_dir(out.parent, "--out folder")
    if args.video:
        ensure_writable_dir(Path(args.video).parent, "--video folder")
    recipe, _ = load_recipe(args.source, args.device)
    video = Path(args.video) if args.video else None
    facts = {"source": str(args.source)}
    if recipe.kind is Kind.TRANSLATOR:  # no latent: the same input through every epoch checkpoint
        if not args.input:
            raise GanforgeError(f"{recipe.cfg.recipe} translates images: give --input IMAGE to see it translated by "
                                f"every epoch checkpoint")
        images = explore.across_checkpoints(Path(args.source), Path(args.input), args.direction, args.device)
        save_grid(images, out, nrow=len(images), scale=args.scale)
        name, d, n = Path(args.input).name, args.direction or recipe.directions[0], len(images) - 1
        facts.update(input=str(args.input), direction=d)
        explore.write_note(out, f"{name}, then its translation {d} by each of the {n} epoch checkpoints",
                           kind="checkpoints", **facts)
        if video:
            explore.write_video(images[1:], video, args.fps, args.scale)
            explore.write_note(video, f"{name} translated {d} by each of the {n} epoch checkpoints, one frame each, "
                               f"{args.fps} fps", kind="checkpoints", **facts)
        print(f"ganforge: wrote the input and its translation by {len(images) - 1} epoch checkpoints to {out}"
              + (f" and {args.video}" if args.video else ""), file=sys.stderr)
        return 0
    as_generator(recipe, args.source, "interpolate", points=False)
    from .sampling import parse_seeds

    seeds = parse_seeds(args.seeds) if args.seeds else []  # ranges too, as `sample --seeds` takes them
    if len(seeds) > MAX_PATH_SEEDS:
        raise GanforgeError(f"--seeds {args.seeds} names {len(seeds):,} seeds; a strip or sweep takes at most "
                            f"{MAX_PATH_SEEDS} (one row per seed or pair)")
    if args.vary == "class":
        if not seeds:
            raise GanforgeError("--vary class needs --seeds (one row per seed)")
        images, k = explore.class_sweep(recipe, seeds)
        save_grid(images, out, nrow=k, scale=args.scale)
        explore.write_note(out, f"seeds {', '.join(map(str, seeds))}: z fixed per row, one column per class "
                           f"({', '.join(recipe.data.class_names)})", kind="class sweep", seeds=seeds, **facts)
        print(f"ganforge: wrote {len(seeds)} row(s) of {k} classes (z fixed per row) to {out}", file=sys.stderr)
        return 0
    label = class_index(recipe, args.class_) if args.class_ is not None else None
    images = explore.render(recipe, explore.path_latents(recipe, seeds, args.steps, args.mode), label)
    save_grid(images, out, nrow=args.steps, scale=args.scale)  # one row per pair of consecutive seeds
    cls = "" if label is None else f", class {recipe.data.class_names[label] if recipe.data.class_names else label}"
    facts.update(seeds=seeds, mode=args.mode, **({} if label is None else {"class": label}))
    explore.write_note(out, f"seeds {' → '.join(map(str, seeds))}: {args.mode}, {args.steps} images per pair, one row "
                       f"per pair{cls}", kind="strip", steps=args.steps, **facts)
    msg = f"ganforge: wrote {len(seeds) - 1} strip(s) of {args.steps} images ({args.mode}) to {out}"
    if video:
        frames = explore.render(recipe, explore.path_latents(recipe, seeds, args.frames, args.mode, loop=True), label)
        explore.write_video(frames, video, args.fps, args.scale)
        explore.write_note(video, f"loop {' → '.join(map(str, seeds + seeds[:1]))}: {args.mode}, {args.frames} frames "
                           f"per pair, {args.fps} fps{cls}", kind="loop", frames=args.frames, fps=args.fps, **facts)
        msg += f" and a {len(frames)}-frame loop to {args.video}"
    print(msg, file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .files import ensure_writable_dir
    from .report import build_report
    from .runlock import RunLock

    run = Path(args.run_dir)
    if not (run / "config.yaml").is_file():
        raise GanforgeError(f"{args.run_dir!r} is not a run directory (no config.yaml)")
    out = Path(args.out) if args.out else run / "report.html"
    if out.parent.resolve() != run.resolve():  # a reader of the run: no lock
        ensure_writable_dir(out.parent, "--out folder")
        print(f"ganforge: wrote {build_report(run, out)}", file=sys.stderr)
        return 0
    with RunLock(run):  # writing into the run directory: not while a training run refreshes the same report
        print(f"ganforge: wrote {build_report(run, out, live=False)}", file=sys.stderr)  # we hold the lock: no trainer does
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .files import ensure_writable_dir
    from .report import build_comparison, check_runs

    runs = check_runs(args.run_dirs)
    out = Path(args.out) if args.out else runs[0].resolve().parent / "compare.html"  # beside the first run
    ensure_writable_dir(out.parent, "--out folder")
    print(f"ganforge: wrote {build_comparison(runs, out)}", file=sys.stderr)
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    from . import presets

    width = max(map(len, presets.PRESETS))
    for name, p in presets.listing():
        mark = " (default)" if name == presets.DEFAULT else ""
        print(f"{name:<{width}}  {p.summary}{mark}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    configs = [c.strip() for c in args.configs.split(",") if c.strip()] if args.configs else None
    cases = bench.plan(args.recipe, args.preset, configs, args.size, args.batch, args.precision, args.device, args.data,
                       args.overrides, args.steps, args.warmup)
    env = bench.environment(args.device)
    print(f"ganforge: benchmarking {len(cases)} configuration(s) on {env['device']} ({env['device_name']})",
          file=sys.stderr)

    def progress(r: dict) -> None:
        done = r["error"] if "error" in r else f"{r['ms_per_step']:.1f} ms/step, {r['images_per_s']:.1f} img/s"
        print(f"ganforge: {r['recipe']} {r['config']}: {done}", file=sys.stderr)

    rows = bench.run(cases, args.in_process, progress)
    print(bench.format_table(rows, env))
    if args.json:
        print(f"ganforge: wrote {bench.write_json(args.json, rows, env)}", file=sys.stderr)
    return 1 if any("error" in r for r in rows) else 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from .data.fetch import fetch_dataset

    dest = fetch_dataset(args.name, Path(args.dest) if args.dest else None, base_url=args.mirror)
    print(f"ganforge: {args.name} is in {dest}", file=sys.stderr)
    return 0


class UsageError(GanforgeError):
    """A command line that argparse rejects: shown as one line, like every other error."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is one ``ganforge: error:`` line (no usage block), exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _seed(text: str) -> int:
    """An argparse type: a seed is an integer in [0, 2^63)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: an integer 0 .. 2^63-1") from None
    if not 0 <= v < 2**63:
        raise argparse.ArgumentTypeError(f"seed {v} is out of range: 0 .. 2^63-1")
    return v


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = _Parser(prog="ganforge", description="Train, evaluate and use GANs.")
    p.add_argument("--version", action="version", version=f"ganforge {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return p


# --------------------------------------------------------------------------------------------------
# The commands' arguments, one function each (the handlers are the cmd_* functions above)


def add_train(sub: Any) -> None:
    t = sub.add_parser("train", help="train a model (no arguments: the offline demo)", epilog=EPILOG)
    t.add_argument("--preset", help="a preset name (see `ganforge presets`)")
    t.add_argument("--config", help="a YAML or TOML config file")
    t.add_argument("--data", help="data source: PATH, mnist, fashion-mnist, cifar10, builtin:NAME, kind:PATH")
    t.add_argument("--out", help="run directory (default: runs/NAME-TIMESTAMP)")
    t.add_argument("--force", action="store_true", help="start over in a run directory that holds a run")
    t.add_argument("--init", metavar="CHECKPOINT", help="start from the networks of a checkpoint of the same recipe")
    t.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    t.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    t.set_defaults(func=cmd_train)


def add_resume(sub: Any) -> None:
    r = sub.add_parser("resume", help="continue a run where it stopped", epilog="overrides: train.epochs=N etc.")
    r.add_argument("run_dir")
    r.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    r.set_defaults(func=cmd_resume)


def add_sample(sub: Any) -> None:
    s = sub.add_parser("sample", help="draw samples from a run or checkpoint")
    s.add_argument("source", metavar="RUN_DIR_or_CHECKPOINT")
    s.add_argument("--n", type=int, default=None, help="number of samples drawn from --seed (default 64; toys: points)")
    s.add_argument("--out", required=True, help="grid.png, or DIR/ for one PNG per sample (sample_00000.png ...; "
                   "with --seeds seed0042.png ...); toys: points.csv")
    s.add_argument("--seed", type=_seed, default=None, help="the seed of the --n samples (default 0)")
    s.add_argument("--seeds", metavar="LIST", help="one image (grid cell) per seed instead of --seed/--n: seeds and "
                   "inclusive ranges, e.g. 0-35 or 0-3,7,10-12; image i is the one `--seed S --n 1` draws for S = "
                   "seed i (as stylegan2-ada's generate.py)")
    s.add_argument("--trunc", type=float, default=1.0, metavar="PSI", help="truncation trick: each latent moves "
                   "toward the mean latent, z' = mean + PSI (z - mean); ganforge's latents are N(0, I), mean 0, so "
                   "z' = PSI z. PSI in (0, 1], 1 = off (default), 0.7 is common")
    s.add_argument("--class", dest="class_", metavar="K", help="conditional models: a class index or name "
                   "(default: a grid with one row per class)")
    s.add_argument("--nrow", type=int, default=None, help="images per grid row (default: square)")
    s.add_argument("--scale", type=int, metavar="N", help="grid.png only: enlarge the grid N times, nearest neighbour "
                   "(default: cells to at least 64 px; 1: native size). DIR/ files always keep the native size")
    s.add_argument("--device", default="cpu")
    s.set_defaults(func=cmd_sample)


def add_translate(sub: Any) -> None:
    tr = sub.add_parser("translate", help="translate images with a pix2pix or CycleGAN run or checkpoint")
    tr.add_argument("source", metavar="RUN_DIR_or_CHECKPOINT")
    tr.add_argument("--input", required=True, help="an image file or a folder (searched recursively)")
    tr.add_argument("--out", required=True, help="output folder; file names and sub-folders are kept")
    tr.add_argument("--direction", choices=["AtoB", "BtoA"], help="default: the model's (pix2pix: as trained)")
    tr.add_argument("--fit", choices=["resize", "pad"], default="resize", help="resize to the training size and "
                    "back (default), or pad to a size the network accepts and translate at full resolution")
    tr.add_argument("--aligned", action="store_true", help="inputs are A|B pairs: translate the half the "
                    "direction names (AtoB: the left)")
    tr.add_argument("--dropout", choices=["on", "off"], help="test-time dropout (pix2pix); default: as the checkpoint's "
                    "model.test_dropout (on, as in the paper); off gives deterministic outputs")
    tr.add_argument("--seed", type=_seed, default=0, help="seed of test-time dropout")
    tr.add_argument("--device", default="cpu")
    tr.set_defaults(func=cmd_translate)


def add_evaluate(sub: Any) -> None:
    e = sub.add_parser("evaluate", help="score checkpoints (FID/FD, KID, IS, precision/recall) with a stated protocol")
    e.add_argument("source", nargs="?", metavar="RUN_DIR_or_CHECKPOINT")
    from .metrics import METRICS, selectable

    e.add_argument("--metrics", default="fid,kid", help="comma list of " + "; ".join(
        f"{n} ({METRICS.get(n).summary})" for n in selectable()) + " (default fid,kid)")
    e.add_argument("--real", help="real data: any spec `train --data` takes (a folder, mnist:PATH, a folder of MNIST "
                   "files, cifar10:PATH, builtin:pizza, ...; default: the run's data)")
    e.add_argument("--split", help="split of the real data, e.g. test (MNIST's t10k files, CIFAR's test batch, a "
                   "folder's test/); default: test when the data has one, else the run's split (train)")
    e.add_argument("--fake", help="a folder of generated images (with --real SPEC; no run needed)")
    e.add_argument("--extractor", default="inception", help="inception (default) or classifier:PATH")
    e.add_argument("--weights", help="the FID Inception weights file (pt_inception-2015-12-05-6726825d.pth)")
    e.add_argument("--n", type=int, help="images per set (default 10000; 26000 with --metrics modes, the papers' count)")
    e.add_argument("--checkpoints", choices=["last", "best", "all"], default="last")
    e.add_argument("--seed", type=_seed, default=0)
    e.add_argument("--size", type=int, default=64, help="--fake/--real folders: image size (default 64)")
    e.add_argument("--channels", type=int, choices=[1, 3], help="--fake/--real folders: convert both to this "
                   "(default: the channels they share)")
    e.add_argument("--bf16", action="store_true", help="extract features under bf16 autocast")
    e.add_argument("--device", default="cpu")
    e.set_defaults(func=cmd_evaluate)


def add_classifier(sub: Any) -> None:
    c = sub.add_parser("classifier", help="the offline feature extractor for FD and class accuracy")
    csub = c.add_subparsers(dest="classifier_command", required=True, metavar="ACTION")
    ct = csub.add_parser("train", help="train a small CNN classifier on labelled data")
    ct.add_argument("--data", required=True, help="labelled data: mnist, cifar10, a class folder, builtin:pizza")
    ct.add_argument("--out", required=True, help="classifier file to write, e.g. mnist_cls.pt")
    ct.add_argument("--epochs", type=int, default=2)
    ct.add_argument("--image-size", type=int, default=32)
    ct.add_argument("--channels", type=int, choices=[1, 3], default=3)
    ct.add_argument("--batch-size", type=int, default=128)
    ct.add_argument("--seed", type=_seed, default=0)
    ct.add_argument("--device", default="cpu")
    ct.set_defaults(func=cmd_classifier_train)


def add_interpolate(sub: Any) -> None:
    ip = sub.add_parser("interpolate", help="images on the latent path between seeds: a strip, and a looping video")
    ip.add_argument("source", metavar="RUN_DIR_or_CHECKPOINT")
    ip.add_argument("--seeds", help="two or more seeds (the latents of `ganforge sample --seed S`): a comma list and "
                    "inclusive ranges, e.g. 3,17,42 or 0-7")
    ip.add_argument("--steps", type=int, default=8, help="images per pair, endpoints included (default 8)")
    ip.add_argument("--mode", choices=["slerp", "lerp"], default="slerp", help="spherical (default) or linear")
    ip.add_argument("--out", required=True, help="the strip: NAME.png, one row per pair of consecutive seeds")
    ip.add_argument("--video", help="also a loop through all seeds and back: NAME.gif, or NAME.mp4 (imageio-ffmpeg)")
    ip.add_argument("--frames", type=int, default=48, help="video frames per pair of seeds (default 48)")
    ip.add_argument("--fps", type=int, default=24)
    ip.add_argument("--scale", type=int, metavar="N", help="enlarge the strip and the video frames N times, nearest "
                    "neighbour (default: grid cells to at least 64 px, video frames to at least 128 px; 1: native size)")
    ip.add_argument("--class", dest="class_", metavar="K", help="conditional models: the class (index or name)")
    ip.add_argument("--vary", choices=["z", "class"], default="z", help="conditional models: class = fix z (one "
                    "row per seed) and sweep the classes, one column each")
    ip.add_argument("--input", help="translation models: an image to translate by every epoch checkpoint of the run")
    ip.add_argument("--direction", choices=["AtoB", "BtoA"], help="translation models: the direction (CycleGAN)")
    ip.add_argument("--device", default="cpu")
    ip.set_defaults(func=cmd_interpolate)


def add_report(sub: Any) -> None:
    rp = sub.add_parser("report", help="one self-contained HTML report of a run (from its directory alone)")
    rp.add_argument("run_dir")
    rp.add_argument("--out", help="default: RUN_DIR/report.html")
    rp.set_defaults(func=cmd_report)


def add_compare(sub: Any) -> None:
    cp = sub.add_parser("compare", help="one HTML page comparing runs: differing config keys, metrics, grids, curves")
    cp.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    cp.add_argument("--out", help="the page to write (default: compare.html beside the first run, in its parent "
                    "folder)")
    cp.set_defaults(func=cmd_compare)


def add_presets(sub: Any) -> None:
    ps = sub.add_parser("presets", help="list presets")
    ps.set_defaults(func=cmd_presets)


def add_bench(sub: Any) -> None:
    from .bench import CONFIG_NAMES, PRECISIONS, SIZES, recipe_names

    b = sub.add_parser(
        "bench", help="time training steps and the data path of each recipe (paper and small configurations)",
        description="Time full training steps (D and G updates, as training runs them) after a warm-up, for each recipe "
                    "at its paper configuration and at a small one, or for one preset: median ms/step and images/s, peak "
                    "memory, the networks' FLOPs per step and the FLOP/s achieved, and the images/s of the data path "
                    "alone, so that you see which one limits. Data: offline built-in images unless --data is given. "
                    "Each configuration runs in a fresh process (its own peak memory).",
        epilog="overrides: dotted KEY=VALUE pairs applied to every configuration, e.g. train.compile=true "
               "train.channels_last=no; exit code 1 when a configuration failed (out of memory...)")
    b.add_argument("--recipe", action="append", metavar="NAME", help="benchmark this recipe (repeatable; default: all "
                   f"of {', '.join(recipe_names())})")
    b.add_argument("--preset", metavar="NAME", help="benchmark one preset instead, with its own config (see `ganforge "
                   "presets`)")
    b.add_argument("--configs", metavar="LIST", help=f"comma list of {', '.join(CONFIG_NAMES)} (default: both)")
    b.add_argument("--size", type=int, metavar="N", help=f"image size for every configuration: {', '.join(map(str, SIZES))} "
                   "(pix2pix gets the U-Net of that size)")
    b.add_argument("--batch", type=int, metavar="N", help="batch size for every configuration")
    b.add_argument("--steps", type=int, default=10, metavar="N", help="timed steps (rounds of n_critic steps for WGAN-GP) per "
                   "configuration (default 10)")
    b.add_argument("--warmup", type=int, default=3, metavar="N", help="untimed warm-up steps first (default 3)")
    b.add_argument("--precision", metavar="P", help="train.precision for every configuration: "
                   f"{', '.join(PRECISIONS)} (default: the config's, auto)")
    b.add_argument("--device", default="auto", help="auto (as training: CUDA, else MPS, else CPU), cpu, cuda, cuda:N, mps")
    b.add_argument("--data", metavar="SPEC", help="data source for every configuration (default: builtin:pizza, "
                   "generated offline; toy presets keep their points)")
    b.add_argument("--json", metavar="FILE", help="also write every row and the environment (versions, device, CPU, "
                   "threads) as JSON")
    b.add_argument("--in-process", action="store_true", help="run every configuration in this process (faster to "
                   "start; the CPU peak memory is then cumulative)")
    b.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    b.set_defaults(func=cmd_bench)


def add_data(sub: Any) -> None:
    d = sub.add_parser("data", help="data sets")
    dsub = d.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    from .data.fetch import GROUPS, describe

    names = "; ".join(f"{g}: {', '.join(n)}" for g, n in GROUPS.items())
    f = dsub.add_parser("fetch", help="download a standard dataset into the cache dir",
                        description=f"Download a standard dataset ({names}) into the cache dir, checking checksums.",
                        epilog="; ".join(f"{n}: {describe(n)}" for ns in GROUPS.values() for n in ns))
    f.add_argument("name", choices=[n for ns in GROUPS.values() for n in ns], metavar="NAME")
    f.add_argument("--dest", help="folder to download into (default: the cache dir)")
    f.add_argument("--mirror", help="base URL of a mirror holding the same files")
    f.set_defaults(func=cmd_data_fetch)
    pr = dsub.add_parser("prepare", help="decode, resize and crop a data set once into memory-mapped uint8 shards",
                         description="Decode SOURCE (any --data spec) once at --size into shards that training "
                                     "streams without decoding images (`--data OUT`), as stylegan2-ada's dataset_tool.")
    pr.add_argument("source", metavar="SOURCE", help="any --data spec: a folder, lmdb:PATH, mnist:PATH, ...")
    pr.add_argument("--out", required=True, metavar="DIR", help="a new folder")
    pr.add_argument("--size", type=int, required=True, help="side in pixels (resize the shorter side, centre crop)")
    pr.add_argument("--channels", type=int, default=3, choices=(1, 3))
    pr.add_argument("--resize", default="shorter", choices=("shorter", "stretch"))
    pr.add_argument("--split", default="train", help="the split of sources that have them (default train)")
    pr.set_defaults(func=cmd_data_prepare)


def cmd_data_prepare(args: argparse.Namespace) -> int:
    from .data.preparing import prepare

    index = prepare(args.source, args.out, args.size, args.channels, args.resize, args.split)
    print(f"ganforge: prepared {index['count']} images of {args.size} px in {len(index['shards'])} shard(s) in "
          f"{args.out} ({index['seconds']} s" + (f"; skipped {index['skipped']} unreadable" if index["skipped"] else "")
          + f"); train with --data {args.out}", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export

    r = export(args.source, args.format, args.out, args.device)
    print(f"ganforge: wrote {', '.join(r.files)} to {args.out} ({args.format}; dynamic: {r.dynamic}); checked "
          f"against PyTorch: max |difference| {r.max_abs_diff:.2g} ({'; '.join(r.checked)})", file=sys.stderr)
    return 0


def add_export(sub: Any) -> None:
    from .export import FORMATS

    x = sub.add_parser("export", help="export a model for other runtimes: ONNX, TorchScript, safetensors",
                       description="Export the network sampling or translation runs, in inference mode, checked "
                                   "against PyTorch on random inputs when written, with a README.md model card.")
    x.add_argument("source", metavar="RUN", help="run directory, checkpoint file, or exported folder")
    x.add_argument("--format", required=True, choices=FORMATS)
    x.add_argument("--out", required=True, metavar="DIR", help="folder to write (created)")
    x.add_argument("--device", default="cpu", help="device the check runs on (default cpu)")
    x.set_defaults(func=cmd_export)


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import serve

    serve(args.runs, args.host, args.port, args.token, args.device)
    return 0


def add_serve(sub: Any) -> None:
    s = sub.add_parser("serve", help="a local web app (and JSON/PNG HTTP API) to use trained models in a browser",
                       description="Serve one page per model (generate, walk the latent space, pick a class, "
                                   "translate an upload) and the HTTP API it uses under /api (OpenAPI at /docs).")
    s.add_argument("runs", nargs="+", metavar="RUN", help="run directories, checkpoints or exported folders")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--token", default=None, help="require this token on every request (the page asks once)")
    s.add_argument("--device", default="cpu")
    s.set_defaults(func=cmd_serve)


COMMANDS = (add_train, add_resume, add_sample, add_translate, add_evaluate, add_classifier, add_interpolate, add_report,
            add_compare, add_presets, add_bench, add_data, add_export, add_serve)


def _one_line_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    print(f"ganforge: warning: {message}", file=sys.stderr)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; ``KEY=VALUE`` overrides may stand before, between or after the options."""
    args, extra = build_parser().parse_known_args(argv)
    overrides = [e for e in extra if "=" in e and not e.startswith("-")]
    if hasattr(args, "overrides") and len(overrides) == len(extra):
        args.overrides = [*args.overrides, *overrides]
    elif extra:
        raise UsageError(f"ganforge {args.command}: unrecognized arguments: {' '.join(extra)} (see `ganforge "
                         f"{args.command} --help`)")
    if getattr(args, "device", None) is not None:
        from .device import pick_device

        args.device = str(pick_device(args.device, "--device"))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    warnings.showwarning = _one_line_warning
    try:
        args = parse(argv)
        return int(args.func(args) or 0)
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ganforge: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # a file system refusal that no check above caught: still one line, naming the path
        from .files import describe_os_error, is_disk_full

        what = "no space left on device" if is_disk_full(e) else describe_os_error(e)
        print(f"ganforge: error: {what}" + (f" ({e.filename})" if is_disk_full(e) and e.filename else ""),
              file=sys.stderr)
        return 2
    except MemoryError:
        print("ganforge: error: out of memory; use a smaller train.batch_size, data.image_size or --n",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
