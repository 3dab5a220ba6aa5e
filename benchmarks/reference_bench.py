#!/usr/bin/env python
"""Time the training step of reference GAN implementations, as their own training scripts run it.

The reference code is never copied into this repository: it is read at run time from checkouts the user
provides.

  --examples DIR   a checkout of https://github.com/pytorch/examples         (uses DIR/dcgan/main.py)
  --junyanz DIR    a checkout of https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix

What is timed, per configuration (see CONFIGS below):

* dcgan (pytorch/examples): main.py runs everything at import (argparse, dataset, training loop), so it
  cannot be imported. Its source is parsed with `ast` at run time and, from it,
    - the argparse defaults (nz, ngf, ndf, lr, beta1, ngpu, batchSize, imageSize) are read,
    - the definitions of weights_init, Generator and Discriminator are executed,
    - the module-level statements that build netG/netD (incl. `.apply(weights_init)`), criterion
      (BCELoss), the Adam optimizers and real_label/fake_label are executed,
    - the body of the inner training loop `for i, data in enumerate(dataloader, 0):` up to and including
      `optimizerG.step()` is compiled and executed once per step. So a step is exactly their D update
      (real batch, then G(noise).detach()) followed by their G update, with their `.item()` calls; the
      print / save_image / checkpoint statements after optimizerG.step() are not run.
  `data` is `[real_images]` with random images already on the device, so `data[0].to(device)` is a no-op
  and data loading is excluded. The noise is drawn inside their step (torch.randn), as in main.py.

* pix2pix / cyclegan (junyanz): their options are built with their own TrainOptions.initialize() and the
  model's modify_commandline_options() (the two classes are pulled out of options/*.py with `ast`, because
  importing the `options` package imports `data`, which needs torchvision and PIL, and util.util),
  then the model is made with their models.create_model(opt) and model.setup(opt), as train.py does, and
  a step is `model.set_input(batch); model.optimize_parameters()` -- the two calls of train.py's loop.
  The batch dict holds random images in [-1, 1] already on the device.
  Works with both the current tree (2025, `opt.device`, DDP) and older ones (`opt.gpu_ids`).

No sys.modules stubs are needed: the only modules of the junyanz tree that are imported are models/
(__init__, base_model, networks, pix2pix_model, cycle_gan_model) and util/__init__ + util/image_pool,
which need nothing beyond torch. util/visualizer (wandb, visdom in old trees), util/html (dominate),
util/util (PIL, numpy) and data/ (torchvision) are never imported.

Timing: `--warmup` steps (default 3), then `--steps` steps (default 10), each timed with
time.perf_counter (with torch.cuda.synchronize() before and after each step on CUDA); the median is
reported. images/s = batch / median step time (for cyclegan a "batch" of 1 is one A image and one B image).
torch.set_num_threads is left at its default.

Reading the numbers on CPU: every row reports (on stderr, and under "details" in the JSON) the CPU time the process
got per wall second over the timed steps. With the default 2 threads on 2 cores that is ~1.95-2.0 when the machine
was ours; anything well below means another process shared the cores, and because the OpenMP threads then wait on
each other the step can be several times slower (seen here: 1.0 -> 11x slower), so rerun such rows. Also, glibc
malloc's dynamic mmap/trim thresholds make a fresh process slower on small configs than one that already ran big
ones (pix2pix small: ~350 ms fresh vs ~200 ms); setting MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ removes
that. Compare against ganforge under the same conditions (same environment variables, same order of configs).

--check verifies, on the first warm-up step, that every network's parameters change and that the losses
are finite, and fails loudly otherwise.

Examples:
  python benchmarks/reference_bench.py --examples /path/to/examples --junyanz /path/to/pytorch-CycleGAN-and-pix2pix \
      --steps 5 --check --json reference_cpu.json
  python benchmarks/reference_bench.py --junyanz DIR --only cyclegan:small --device cuda
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import gc
import importlib
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path

import torch
from torch import nn, optim

# (impl, model, config, size, batch, extra) -- `extra` are model-specific settings.
CONFIGS = [
    # pytorch/examples dcgan: 64x64 fixed by their nets; nz=100, ngf=ndf=64, nc=3 (main.py defaults)
    ("pytorch/examples", "dcgan", "paper", 64, 128, {}),  # DCGAN paper batch size
    ("pytorch/examples", "dcgan", "default", 64, 64, {}),  # main.py --batchSize default
    ("pytorch/examples", "dcgan", "small", 64, 16, {}),
    # junyanz pix2pix: unet + batch norm + dropout, basic 70x70 PatchGAN on concat(A, B), vanilla GAN, L1 x100
    ("junyanz", "pix2pix", "paper", 256, 1, {"netG": "unet_256"}),
    ("junyanz", "pix2pix", "small", 128, 1, {"netG": "unet_128"}),
    # junyanz CycleGAN: resnet generator + instance norm, basic D, lsgan, pool 50, lambda 10, identity 0.5
    ("junyanz", "cyclegan", "paper", 256, 1, {"netG": "resnet_9blocks"}),
    ("junyanz", "cyclegan", "small", 64, 4, {"netG": "resnet_6blocks", "ngf": 16, "ndf": 16}),
]


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
def git_head(path: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], check=False, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def snapshot(nets: dict[str, nn.Module]) -> dict[str, list[torch.Tensor]]:
    return {name: [p.detach().clone() for p in net.parameters()] for name, net in nets.items()}


def compare(before: dict[str, list[torch.Tensor]], nets: dict[str, nn.Module]) -> dict[str, tuple[int, int]]:
    """{net: (parameter tensors changed, parameter tensors)}"""
    out = {}
    for name, net in nets.items():
        params = list(net.parameters())
        changed = sum(int(not torch.equal(b, p.detach())) for b, p in zip(before[name], params))
        out[name] = (changed, len(params))
    return out


def run_check(label: str, before, nets, losses: dict[str, float]) -> None:
    changes = compare(before, nets)
    bad_nets = [n for n, (c, _) in changes.items() if c == 0]
    bad_losses = [k for k, v in losses.items() if not math.isfinite(v)]
    desc = ", ".join(f"{n} {c}/{t}" for n, (c, t) in changes.items())
    loss_desc = ", ".join(f"{k}={v:.4g}" for k, v in losses.items())
    print(f"[check] {label}: parameter tensors changed: {desc}; losses: {loss_desc}", file=sys.stderr)
    if bad_nets or bad_losses:
        raise SystemExit(f"[check] FAILED for {label}: unchanged nets {bad_nets}, non-finite losses {bad_losses}")


# --------------------------------------------------------------------------------------------------
# pytorch/examples dcgan: read main.py with ast
# --------------------------------------------------------------------------------------------------
def _literal(node):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def _argparse_defaults(tree: ast.Module) -> dict:
    """dest -> default of every parser.add_argument('--x', ..., default=...) in main.py."""
    out = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add_argument"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            dest = str(node.args[0].value).lstrip("-").replace("-", "_")
            for kw in node.keywords:
                if kw.arg == "default":
                    out[dest] = _literal(kw.value)
    return out


def _calls(node: ast.AST, obj: str, attr: str) -> bool:
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == attr
        and isinstance(n.func.value, ast.Name)
        and n.func.value.id == obj
        for n in ast.walk(node)
    )


def _assigned_names(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    return set()


class DCGANSource:
    """The pieces of dcgan/main.py, compiled from its source at run time."""

    SETUP_NAMES = frozenset({"netG", "netD", "criterion", "optimizerD", "optimizerG", "real_label", "fake_label"})

    def __init__(self, examples_dir: Path):
        self.path = examples_dir / "dcgan" / "main.py"
        if not self.path.is_file():
            raise SystemExit(f"--examples: {self.path} not found (expected a checkout of pytorch/examples)")
        tree = ast.parse(self.path.read_text(), filename=str(self.path))
        self.defaults = _argparse_defaults(tree)

        defs = [
            n
            for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in {"weights_init", "Generator", "Discriminator"}
        ]
        if {d.name for d in defs} != {"weights_init", "Generator", "Discriminator"}:
            raise SystemExit(f"{self.path}: could not find weights_init, Generator and Discriminator")
        self.defs_code = compile(ast.Module(body=defs, type_ignores=[]), str(self.path), "exec")

        # module-level setup: netG = Generator(ngpu).to(device); netG.apply(weights_init); criterion; optimizers; labels
        setup = []
        for node in tree.body:
            builds = bool(_assigned_names(node) & self.SETUP_NAMES)
            inits = isinstance(node, ast.Expr) and (_calls(node, "netG", "apply") or _calls(node, "netD", "apply"))
            if builds or inits:
                setup.append(node)
        got = set().union(*(_assigned_names(n) for n in setup))
        if not self.SETUP_NAMES <= got:
            raise SystemExit(f"{self.path}: setup statements for {sorted(self.SETUP_NAMES - got)} not found")
        self.setup_code = compile(ast.Module(body=setup, type_ignores=[]), str(self.path), "exec")

        # the inner loop: for i, data in enumerate(dataloader, 0): ... up to optimizerG.step()
        loop = None
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.For)
                and isinstance(node.iter, ast.Call)
                and isinstance(node.iter.func, ast.Name)
                and node.iter.func.id == "enumerate"
                and node.iter.args
                and isinstance(node.iter.args[0], ast.Name)
                and node.iter.args[0].id == "dataloader"
            ):
                loop = node
                break
        if loop is None:
            raise SystemExit(f"{self.path}: training loop `for ... in enumerate(dataloader)` not found")
        step = []
        for stmt in loop.body:
            step.append(stmt)
            if _calls(stmt, "optimizerG", "step"):
                break
        else:
            raise SystemExit(f"{self.path}: optimizerG.step() not found in the training loop")
        if not any(_calls(s, "optimizerD", "step") for s in step):
            raise SystemExit(f"{self.path}: optimizerD.step() not found before optimizerG.step()")
        self.step_code = compile(ast.Module(body=step, type_ignores=[]), str(self.path), "exec")
        self.step_lines = (step[0].lineno, step[-1].end_lineno)


class DCGANBench:
    def __init__(self, src: DCGANSource, size: int, batch: int, device: torch.device):
        d = src.defaults
        if size != d.get("imageSize", 64):
            raise SystemExit(f"dcgan: their nets are fixed at {d.get('imageSize', 64)}x{d.get('imageSize', 64)}, not {size}")
        opt = types.SimpleNamespace(**d)  # what `opt = parser.parse_args()` gives with defaults
        opt.batchSize = batch
        nc = 3  # set by main.py for the RGB datasets (cifar10, lsun, imagenet/folder, fake)
        self.ns = {
            "__name__": "dcgan_main_extracted",
            "torch": torch,
            "nn": nn,
            "optim": optim,
            "opt": opt,
            "device": device,
            "ngpu": int(opt.ngpu),
            "nz": int(opt.nz),
            "ngf": int(opt.ngf),
            "ndf": int(opt.ndf),
            "nc": nc,
        }
        # their definitions and setup statements, compiled from their main.py (never our code)
        exec(src.defs_code, self.ns)  # noqa: S102
        exec(src.setup_code, self.ns)  # noqa: S102
        self.step_code = src.step_code
        self.real = torch.rand(batch, nc, size, size, device=device) * 2 - 1  # normalized images in [-1, 1]
        self.nets = {"G": self.ns["netG"], "D": self.ns["netD"]}
        self.desc = (
            f"nz={opt.nz} ngf={opt.ngf} ndf={opt.ndf} nc={nc} lr={opt.lr} betas=({opt.beta1}, 0.999) "
            f"criterion={type(self.ns['criterion']).__name__}; step = main.py lines {src.step_lines[0]}-{src.step_lines[1]}"
        )

    def step(self):
        self.ns["data"] = [self.real]  # their loop reads data[0]
        exec(self.step_code, self.ns)  # noqa: S102  -- their loop body, compiled once from main.py

    def losses(self) -> dict[str, float]:
        return {"errD": float(self.ns["errD"].item()), "errG": float(self.ns["errG"].item())}


# --------------------------------------------------------------------------------------------------
# junyanz pytorch-CycleGAN-and-pix2pix
# --------------------------------------------------------------------------------------------------
class JunyanzSource:
    def __init__(self, root: Path):
        self.root = root.resolve()
        for rel in ("models/__init__.py", "models/networks.py", "options/base_options.py", "options/train_options.py"):
            if not (self.root / rel).is_file():
                raise SystemExit(f"--junyanz: {self.root / rel} not found (expected a checkout of pytorch-CycleGAN-and-pix2pix)")
        # Their code imports its own top-level packages `models` and `util`: make sure those resolve to this tree.
        for name in ("models", "util"):
            mod = sys.modules.get(name)
            if mod is not None and not str(getattr(mod, "__file__", "")).startswith(str(self.root)):
                raise SystemExit(f"a different top-level module '{name}' is already imported ({mod.__file__})")
        sys.path.insert(0, str(self.root))
        self.models = importlib.import_module("models")

        # TrainOptions/BaseOptions, taken from the source with ast (importing `options` would import `data`,
        # which needs torchvision, and util.util); only their initialize() methods are used.
        ns = {"__name__": "junyanz_options_extracted", "argparse": argparse}
        for rel, cls in (("options/base_options.py", "BaseOptions"), ("options/train_options.py", "TrainOptions")):
            path = self.root / rel
            tree = ast.parse(path.read_text(), filename=str(path))
            node = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls), None)
            if node is None:
                raise SystemExit(f"{path}: class {cls} not found")
            exec(compile(ast.Module(body=[node], type_ignores=[]), str(path), "exec"), ns)  # noqa: S102  -- their class, compiled from their file
        self.TrainOptions = ns["TrainOptions"]

    def make_opt(self, model: str, size: int, batch: int, extra: dict, device: torch.device):
        parser = argparse.ArgumentParser()
        parser = self.TrainOptions().initialize(parser)  # their training options and defaults
        parser = self.models.get_option_setter(model)(parser, True)  # model-specific defaults (is_train=True)
        argv = [
            "--dataroot",
            "unused",
            "--model",
            model,
            "--batch_size",
            str(batch),
            "--load_size",
            str(size),
            "--crop_size",
            str(size),
        ]
        for k, v in extra.items():
            argv += [f"--{k}", str(v)]
        opt = parser.parse_args(argv)
        opt.isTrain = True  # what BaseOptions.parse() sets
        # older trees: BaseOptions.parse() turns --gpu_ids '0' / '-1' into a list (and models wrap nets in DataParallel)
        opt.gpu_ids = [device.index or 0] if device.type == "cuda" else []
        # current tree: train.py sets opt.device = init_ddp() (cuda:0 when CUDA is available, else cpu)
        opt.device = device
        return opt


class JunyanzBench:
    def __init__(self, src: JunyanzSource, model: str, size: int, batch: int, extra: dict, device: torch.device):
        name = {"pix2pix": "pix2pix", "cyclegan": "cycle_gan"}[model]
        self.opt = opt = src.make_opt(name, size, batch, extra, device)
        with contextlib.redirect_stdout(sys.stderr):  # their construction prints go to stderr, the table to stdout
            self.model = src.models.create_model(opt)
            self.model.setup(opt)  # as train.py: init weights (current tree), move to device, schedulers
        a = torch.rand(batch, opt.input_nc, size, size, device=device) * 2 - 1
        b = torch.rand(batch, opt.output_nc, size, size, device=device) * 2 - 1
        self.batch = {"A": a, "B": b, "A_paths": ["a.png"] * batch, "B_paths": ["b.png"] * batch}
        self.nets = {n: getattr(self.model, "net" + n) for n in self.model.model_names if isinstance(n, str)}
        keys = ["netG", "netD", "norm", "no_dropout", "gan_mode", "pool_size", "ngf", "ndf", "lr", "beta1", "init_type"]
        keys += [k for k in ("lambda_L1", "lambda_A", "lambda_B", "lambda_identity") if hasattr(opt, k)]
        self.desc = " ".join(f"{k}={getattr(opt, k)}" for k in keys)

    def step(self):
        self.model.set_input(self.batch)
        self.model.optimize_parameters()

    def losses(self) -> dict[str, float]:
        with warnings.catch_warnings():  # their float(loss) on a tensor that requires grad warns; harmless here
            warnings.simplefilter("ignore", UserWarning)
            return self.model.get_current_losses()


# --------------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------------
def bench(label: str, b, device: torch.device, warmup: int, steps: int, check: bool) -> tuple[float, dict]:
    """Median ms/step, and details: every step time, and the CPU time this process got per wall second over the timed
    steps (about torch.get_num_threads() when the cores were ours; lower when something else was running on them)."""
    for i in range(warmup):
        before = snapshot(b.nets) if (check and i == 0) else None
        b.step()
        sync(device)
        if before is not None:
            run_check(label, before, b.nets, b.losses())
    if check and warmup == 0:
        before = snapshot(b.nets)
        b.step()
        sync(device)
        run_check(label, before, b.nets, b.losses())
    times = []
    load_before = _loadavg()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(steps):
        sync(device)
        t0 = time.perf_counter()
        b.step()
        sync(device)
        times.append(time.perf_counter() - t0)
    cores = (time.process_time() - cpu0) / max(time.perf_counter() - wall0, 1e-9)
    ms = statistics.median(times) * 1000.0
    details = {
        "step_ms": [round(t * 1000.0, 2) for t in times],
        "cpu_s_per_wall_s": round(cores, 2),
        "loadavg_1min_before_after": [load_before, _loadavg()],
    }
    print(
        f"[time] {label}: median {ms:.1f} ms/step (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}) over {steps} steps; "
        f"process CPU {cores:.2f} s per wall s; loadavg {details['loadavg_1min_before_after']}",
        file=sys.stderr,
    )
    return ms, details


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--examples", type=Path, help="checkout of github.com/pytorch/examples (dcgan)")
    p.add_argument("--junyanz", type=Path, help="checkout of github.com/junyanz/pytorch-CycleGAN-and-pix2pix")
    p.add_argument("--steps", type=int, default=10, help="timed steps (default 10)")
    p.add_argument("--warmup", type=int, default=3, help="untimed warm-up steps (default 3)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--only", default="", help="comma list of model[:config] to run, e.g. dcgan:small,cyclegan")
    p.add_argument("--check", action="store_true", help="verify on the first warm-up step that every net's parameters change")
    p.add_argument("--json", type=Path, help="write {'meta': ..., 'rows': [...], 'details': [...]} here")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.examples is None and args.junyanz is None:
        p.error("give --examples DIR and/or --junyanz DIR")

    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: CUDA is not available")
        torch.cuda.set_device(device.index or 0)
        torch.backends.cudnn.benchmark = True  # both dcgan/main.py and junyanz BaseModel set it
    torch.manual_seed(args.seed)
    random.seed(args.seed)  # junyanz ImagePool draws from `random`

    wanted = [w.strip() for w in args.only.split(",") if w.strip()]

    def selected(model, config):
        return not wanted or any(w == model or w == f"{model}:{config}" for w in wanted)

    dcgan_src = DCGANSource(args.examples) if args.examples else None
    jz_src = JunyanzSource(args.junyanz) if args.junyanz else None
    meta = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "num_threads": torch.get_num_threads(),
        "warmup": args.warmup,
        "steps": args.steps,
        "statistic": "median",
        "examples_dir": str(args.examples) if args.examples else None,
        "examples_commit": git_head(args.examples) if args.examples else None,
        "junyanz_dir": str(args.junyanz) if args.junyanz else None,
        "junyanz_commit": git_head(args.junyanz) if args.junyanz else None,
    }
    print(
        f"torch {meta['torch']} on {device} ({meta['device_name']}), {meta['num_threads']} threads; "
        f"examples {meta['examples_commit']}, junyanz {meta['junyanz_commit']}",
        file=sys.stderr,
    )

    rows, details = [], []
    for impl, model, config, size, batch, extra in CONFIGS:
        src = dcgan_src if impl == "pytorch/examples" else jz_src
        if src is None or not selected(model, config):
            continue
        label = f"{impl} {model} {config} {size}x{size} b{batch}"
        torch.manual_seed(args.seed)
        random.seed(args.seed)
        if model == "dcgan":
            b = DCGANBench(src, size, batch, device)
        else:
            b = JunyanzBench(src, model, size, batch, extra, device)
        print(f"[setup] {label}: {b.desc}", file=sys.stderr)
        ms, info = bench(label, b, device, args.warmup, args.steps, args.check)
        details.append({"label": label, **info})
        rows.append(
            {
                "impl": impl,
                "model": model,
                "config": config,
                "size": size,
                "batch": batch,
                "ms_per_step": round(ms, 2),
                "images_per_s": round(batch * 1000.0 / ms, 3),
            }
        )
        del b
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()

    if not rows:
        raise SystemExit("nothing selected")
    header = f"{'impl':<17} {'model':<9} {'config':<8} {'size':>5} {'batch':>5} {'ms/step':>10} {'images/s':>10}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['impl']:<17} {r['model']:<9} {r['config']:<8} {r['size']:>5} {r['batch']:>5} "
            f"{r['ms_per_step']:>10.1f} {r['images_per_s']:>10.2f}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, "rows": rows, "details": details}, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
