"""Score the generation presets the way the papers do, on held-out data, by judges they were not trained with,
and write docs/quality.md.

    python benchmarks/quality.py [--only CASE,...] [--work runs/quality] [--mnist ../shared/data/mnist]
                                 [--cifar ARCHIVE] [--out docs/quality.md] [--images docs/images] [--json ROWS]
                                 [--rows ROWS] [--merge ROWS]

To rerun some cases and keep the others: ``--only A,B --merge rows.json --json rows.json`` (the page then holds
every case; the rows file is what ``--json`` wrote before).

Each case trains a preset through the command (``ganforge train``), times it, scores it with ``ganforge evaluate``
and reads the row that evaluation appended to the run's eval.jsonl. The judges are ganforge's own: an MNIST
classifier trained here on the MNIST training split (``ganforge classifier train``, 2 epochs), which reads digits
of generated images (class accuracy of conditional models, confidence and class shares, Frechet distance in its
feature space against the MNIST *test* split, StackedMNIST modes) and never saw a generated image; the 2-D toys are
scored by their mode metrics against the true mixture (PacGAN's protocol, 2,500 samples). Run it alone: other
processes on 2 cores make every timing meaningless. The whole set takes about 2.5 hours on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["train.progress=false", "train.report=false", "train.tensorboard=false"]


@dataclass
class Case:
    name: str
    summary: str
    train: list[str]  # ganforge train arguments (the run directory is added)
    evaluate: list[str]  # ganforge evaluate arguments after the checkpoint ({judge} is replaced)
    show: list[str]  # result keys for the table
    reference: str  # the published number(s) beside it
    goal: str
    needs_mnist: bool = True
    needs_cifar: bool = False  # trains or scores on the CIFAR-10 halves ({cifar}, {cifar_judge})
    checkpoint: str = "last.pt"  # which checkpoint of the run is scored
    reuse: str = ""  # score another case's run (a checkpoint of it) instead of training
    image: str = ""  # file name under --images for the run's last sample grid


def cases(mnist: str) -> list[Case]:
    if Path(mnist).is_absolute() and Path(mnist).resolve().is_relative_to(ROOT.parent):
        mnist = os.path.relpath(mnist, ROOT)  # ../shared/data/mnist: commands a reader can paste in the repository
    m = f"mnist:{mnist}"
    judge = ["--extractor", "classifier:{judge}"]
    return [
        Case("toy-ring", "`toy-ring` (PacGAN's ring: 8 Gaussians, std 0.01, unit circle)", ["--preset", "toy-ring"],
             ["--n", "2500"], ["modes", "high_quality", "reverse_kl"],
             "GAN 6.3 / 98.2% / 0.45; PacGAN2 7.9 / 95.6% / 0.07 (PacGAN Table 1)", "8 / >= 97% / <= 0.05",
             needs_mnist=False, image="quality_toy_ring.png"),
        Case("toy-grid", "`toy-grid` (PacGAN's grid: 25 Gaussians, std 0.05, spacing 2)", ["--preset", "toy-grid"],
             ["--n", "2500"], ["modes", "high_quality", "reverse_kl"],
             "GAN 17.3 / 94.8% / 0.70; PacGAN4 24.8 / 93.6% / 0.04 (PacGAN Table 1)", "25 / >= 95% / <= 0.05",
             needs_mnist=False, image="quality_toy_grid.png"),
        Case("cgan-mnist-1", "`cgan-mnist train.epochs=1` (projection D + AC-GAN head, batch 8)",
             ["--preset", "cgan-mnist", "--data", m, "train.epochs=1"],
             ["--metrics", "fid,acc", "--n", "2000", "--split", "test", *judge], ["class_acc", "FD"],
             "class-faithful within an epoch is routine with projection or AC discriminators", ">= 98% class accuracy",
             image="quality_cgan_mnist.png"),
        Case("cgan-mnist-seed-1", "`cgan-mnist-seed train.epochs=1` (the seeds' cGAN: label concatenated)",
             ["--preset", "cgan-mnist-seed", "--data", m, "train.epochs=1"],
             ["--metrics", "fid,acc", "--n", "2000", "--split", "test", *judge], ["class_acc", "FD"],
             "-", "(the seeds' setting, kept as it was)"),
        Case("dcgan-mnist-1", "`dcgan-mnist train.epochs=1` (batch 16, lr 4e-4, EMA)",
             ["--preset", "dcgan-mnist", "--data", m, "train.epochs=1"],
             ["--metrics", "fid,conf", "--n", "1000", "--split", "test", *judge],
             ["confidence", "class_share_min", "FD"],
             "the reference DCGAN (rows below): after 5 epochs", "at least the reference after 5 epochs",
             image="quality_dcgan_mnist.png"),
        Case("reference-dcgan-1", "the pytorch/examples DCGAN setting (batch 64, lr 2e-4, no EMA), epoch 1 of 5",
             ["--preset", "dcgan-mnist", "--data", m, "model.ema=0", "train.batch_size=64", "optim.lr=2e-4",
              "train.epochs=5", "train.keep_checkpoints=0"],
             ["--metrics", "fid,conf", "--n", "1000", "--split", "test", *judge],
             ["confidence", "class_share_min", "FD"], "-", "-", checkpoint="checkpoints/epoch_001.pt"),
        Case("reference-dcgan-5", "the pytorch/examples DCGAN setting, epoch 5", [],
             ["--metrics", "fid,conf", "--n", "1000", "--split", "test", *judge],
             ["confidence", "class_share_min", "FD"], "-", "-", checkpoint="checkpoints/epoch_005.pt",
             reuse="reference-dcgan-1"),
        Case("mlp-mnist-1", "`mlp-mnist train.epochs=1` (the seeds' dense GAN)",
             ["--preset", "mlp-mnist", "--data", m, "train.epochs=1"],
             ["--metrics", "fid,conf", "--n", "1000", "--split", "test", *judge],
             ["confidence", "class_share_min", "FD"], "-", "-"),
        Case("dcgan-stacked-mnist", "`dcgan-stacked-mnist` (1,000 modes)",
             ["--preset", "dcgan-stacked-mnist", "--data", f"stacked-mnist:{mnist}"],
             ["--metrics", "modes", *judge], ["modes", "modes_kl"],
             "DCGAN 99 / 3.40; PacDCGAN2 1000 / 0.06 (PacGAN Table 2); R3GAN 1000 / 0.029",
             "1000 / <= 0.1 (stretch 0.05) in <= 15 min", image="quality_stacked_mnist.png"),
        # R3GAN at about dcgan-mnist-1's wall clock (2.7 min; the CPU preset trains ~240 img/s: 2,400 steps of 16)
        Case("r3gan-mnist-eq", "`r3gan-mnist train.steps=2400` (about the wall clock of `dcgan-mnist` epoch 1)",
             ["--preset", "r3gan-mnist", "--data", m, "train.steps=2400"],
             ["--metrics", "fid,conf", "--n", "1000", "--split", "test", *judge],
             ["confidence", "class_share_min", "FD"], "R3GAN: the modern baseline (CIFAR-10 FID 1.96 on GPUs)",
             "lower FD than `dcgan-mnist` at the same wall clock"),
        # the presets' own budgets: r3gan-mnist (2 epochs) against dcgan-mnist and wgangp trained as long or longer
        Case("r3gan-mnist", "`r3gan-mnist` (its 2 epochs, batch 16)",
             ["--preset", "r3gan-mnist", "--data", m, "train.keep_checkpoints=0"],
             ["--metrics", "fid,conf", "--n", "1000", "--split", "test", *judge],
             ["confidence", "class_share_min", "FD"], "R3GAN: the modern baseline (CIFAR-10 FID 1.96 on GPUs)",
             "lower FD than `dcgan-mnist` at the same wall clock", image="quality_r3gan_mnist.png"),
        Case("r3gan-mnist-e1", "`r3gan-mnist`, its checkpoint after epoch 1 (half the wall clock)", [],
             ["--metrics", "fid,conf", "--n", "1000", "--split", "test", *judge],
             ["confidence", "class_share_min", "FD"], "-", "-", checkpoint="checkpoints/epoch_001.pt",
             reuse="r3gan-mnist"),
        Case("dcgan-mnist-6", "`dcgan-mnist train.epochs=6` (for the wall clocks of `r3gan-mnist`)",
             ["--preset", "dcgan-mnist", "--data", m, "train.epochs=6", "train.keep_checkpoints=0"],
             ["--metrics", "fid,conf", "--n", "1000", "--split", "test", *judge],
             ["confidence", "class_share_min", "FD"], "-", "-"),
        *[Case(f"dcgan-mnist-6-e{e}", f"`dcgan-mnist`, its checkpoint after epoch {e} (about {what}'s wall clock)",
               [], ["--metrics", "fid,conf", "--n", "1000", "--split", "test", *judge],
               ["confidence", "class_share_min", "FD"], "-", "-", checkpoint=f"checkpoints/epoch_00{e}.pt",
               reuse="dcgan-mnist-6") for e, what in ((3, "`r3gan-mnist` epoch 1"), (5, "`r3gan-mnist`"))],
        Case("wgangp-mnist", "`wgangp-cifar10` on MNIST (`data.channels=1`), 4,000 steps of 64 (about `r3gan-mnist`'s "
             "wall clock)", ["--preset", "wgangp-cifar10", "--data", m, "data.channels=1", "train.steps=4000"],
             ["--metrics", "fid,conf", "--n", "1000", "--split", "test", *judge],
             ["confidence", "class_share_min", "FD"], "WGAN-GP (Gulrajani et al. 2017)", "-"),
        Case("r3gan-stacked-mnist", "`r3gan-stacked-mnist` (1,000 modes; 1 epoch of 192,000 images)",
             ["--preset", "r3gan-stacked-mnist", "--data", f"stacked-mnist:{mnist}"],
             ["--metrics", "modes", *judge], ["modes", "modes_kl", "modes_kl_channels", "modes_tc"],
             "R3GAN 1000 / 0.029 (its paper, Table 2); PacDCGAN2 1000 / 0.06", "1000 / <= 0.05 in <= 20 min",
             image="quality_r3gan_stacked_mnist.png"),
        # small data: 600 MNIST images, 12,000 steps (D memorises them without augmentation)
        *[Case(f"dcgan-mnist-600-{a}", f"`dcgan-mnist data.limit=600 train.steps=12000 model.augment={a}`",
               ["--preset", "dcgan-mnist", "--data", m, "data.limit=600", "train.steps=12000", f"model.augment={a}"],
               ["--metrics", "fid,conf", "--n", "1000", "--split", "test", *judge],
               ["confidence", "class_share_min", "FD"],
               "DiffAugment: StyleGAN2 on 10% of CIFAR-10 FID 36.0 -> 14.5" if a == "diffaug" else "-",
               "diffaug or ada >= 30% lower FD than none" if a != "none" else "-",
               image=f"quality_mnist600_{a}.png") for a in ("none", "diffaug", "ada")],
        # CIFAR-10 (the first half, 5,000 images, unconditional) at about 4 minutes of training each
        # (--n 5000: the whole held-out half)
        *[Case(f"{name}-cifar-eq", f"`{preset}` on the CIFAR-10 half at 32 px, {steps:,} steps of {batch} (about 4 min)",
               ["--preset", preset, "--data", "{cifar}", "data.image_size=32", f"train.steps={steps}", *extra],
               ["--metrics", "fid", "--n", "5000", "--split", "test", "--extractor", "classifier:{cifar_judge}"],
               ["FD"], ref, "r3gan lowest" if name == "r3gan" else "-", needs_mnist=False, needs_cifar=True,
               image=f"quality_cifar_{name}.png")
          for name, preset, steps, batch, extra, ref in (
              ("r3gan", "r3gan-cifar10", 3600, 16, ["model.conditional=false"], "R3GAN class-conditional on GPUs: FID 1.96"),
              ("dcgan", "dcgan-cifar10", 2600, 64, [], "-"),
              ("wgangp", "wgangp-cifar10", 2200, 64, [], "-"))],
        # small data: 1,000 CIFAR-10 images (data.limit on a class folder: the first 100 of each class), 4,000
        # steps of 32 (128 passes over them), judged against 1,000 held-out images (100 of each class)
        *[Case(f"dcgan-cifar-1000-{a}", f"`dcgan-cifar10` at 32 px on 1,000 CIFAR-10 images (100 a class), 4,000 "
                                        f"steps of 32, `model.augment={a}`",
               ["--preset", "dcgan-cifar10", "--data", "{cifar}", "data.image_size=32", "data.limit=1000",
                "train.batch_size=32", "train.steps=4000", f"model.augment={a}"],
               ["--metrics", "fid", "--n", "1000", "--split", "test", "--extractor", "classifier:{cifar_judge}"],
               ["FD"], "DiffAugment: StyleGAN2 on 10% of CIFAR-10 FID 36.0 -> 14.5" if a == "diffaug" else "-",
               "diffaug or ada >= 30% lower FD than none" if a != "none" else "-", needs_mnist=False,
               needs_cifar=True, image=f"quality_cifar1000_{a}.png") for a in ("none", "diffaug", "ada")],
    ]


def ganforge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganforge", *args], capture_output=True, text=True, cwd=ROOT)


def judge_classifier(work: Path, mnist: str) -> Path:
    out = work / "judge_mnist.pt"
    if not out.is_file():
        print("training the MNIST judge (2 epochs on the training split)...", file=sys.stderr)
        p = ganforge("classifier", "train", "--data", f"mnist:{mnist}", "--channels", "1", "--image-size", "28",
                     "--epochs", "2", "--out", str(out))
        if p.returncode:
            sys.exit(p.stderr)
    return out


def judge_accuracy(path: Path) -> float:
    import torch

    return float(torch.load(path, weights_only=True)["test_accuracy"])


def stacked_floor(judge: Path, mnist: str, n: int = 26000) -> float:
    """modes_kl of *real* StackedMNIST test images under the judge: the best a generator can score here (finite
    samples and the judge's own mistakes)."""
    import numpy as np
    import torch

    from ganforge.config import DataConfig
    from ganforge.data.sources import open_source
    from ganforge.metrics import METRICS, Inputs
    from ganforge.metrics.extractors import open_extractor

    ex = open_extractor(f"classifier:{judge}")
    src = open_source(DataConfig(source=f"stacked-mnist:{mnist}", split="test", channels=3, image_size=32,
                                 builtin_n=n, builtin_seed=1))
    x = torch.from_numpy(src.array).permute(0, 3, 1, 2).float() / 127.5 - 1
    logits = [ex.features(b.reshape(len(b) * 3, 1, 32, 32))[1].numpy().reshape(len(b), 3, -1) for b in x.split(1000)]
    return METRICS.get("modes").compute(Inputs(channel_logits=np.concatenate(logits)))["modes_kl"]


def fill(arg: str, judge: Path | str | None, cifar: tuple[Path | str, Path | str] | None) -> str:
    """A case argument with its placeholders replaced: {judge} (the MNIST judge), {cifar} (the CIFAR-10 halves'
    folder) and {cifar_judge} (the CIFAR-10 judge)."""
    arg = arg.replace("{judge}", str(judge))
    if cifar is not None:
        arg = arg.replace("{cifar_judge}", str(cifar[1])).replace("{cifar}", str(cifar[0]))
    return arg


def as_shown(arg: str) -> str:
    """A case argument as the page prints it (paths under runs/quality)."""
    return fill(arg, "runs/quality/judge_mnist.pt", ("runs/quality/cifar5k", "runs/quality/judge_cifar.pt"))


def cifar_halves(work: Path, archive: Path) -> Path:
    """The CIFAR-10 test split of ../shared/data (10,000 JPEGs in class folders) cut into two halves by file name:
    the first 500 images of each class are ``train/`` (what the GANs and the judge learn from), the other 500
    ``test/`` (held out: the real images the generated ones are compared with)."""
    import tarfile

    out = work / "cifar5k"
    if (out / "test").is_dir():
        return out
    tmp = work / "cifar5k.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(archive, "r:*") as tar:
        tar.extractall(tmp / "raw", filter="data")
    classes = sorted(d for d in (tmp / "raw" / "test").iterdir() if d.is_dir())
    for d in classes:
        files = sorted(d.glob("*.jpg"))
        for half, chosen in (("train", files[:500]), ("test", files[500:])):
            (tmp / half / d.name).mkdir(parents=True)
            for f in chosen:
                f.rename(tmp / half / d.name / f.name)
    shutil.rmtree(tmp / "raw")
    tmp.rename(out)
    return out


def cifar_judge(work: Path, halves: Path) -> Path:
    out = work / "judge_cifar.pt"
    if not out.is_file():
        print("training the CIFAR-10 judge (20 epochs on the first half)...", file=sys.stderr)
        p = ganforge("classifier", "train", "--data", str(halves), "--channels", "3", "--image-size", "32",
                     "--epochs", "20", "--out", str(out))
        if p.returncode:
            sys.exit(p.stderr)
    return out


def run_case(c: Case, work: Path, judge: Path | None, images: Path | None,
             cifar: tuple[Path, Path] | None = None) -> dict:
    run = work / (c.reuse or c.name)
    row: dict = {"case": c.name}
    if not c.reuse:
        t0 = time.time()
        p = ganforge("train", *(fill(a, judge, cifar) for a in c.train), "--out", str(run), "--force", *QUIET)
        row["train_s"] = round(time.time() - t0, 1)
        if p.returncode:
            return {**row, "error": p.stderr.strip().splitlines()[-1]}
    args = [fill(a, judge, cifar) for a in c.evaluate]
    t0 = time.time()
    p = ganforge("evaluate", str(run / c.checkpoint), *args)
    row["eval_s"] = round(time.time() - t0, 1)
    if p.returncode:
        return {**row, "error": p.stderr.strip().splitlines()[-1]}
    rows = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines() if line.strip()]
    scores = rows[-1]
    for key in c.show:
        found = next((k for k in scores if k == key or (key == "FD" and k.startswith("FD[") and k.count("[") == 1)),
                     None)
        row[key] = scores.get(found) if found else None
    grids = sorted((run / "samples").glob("epoch_*.png"))
    if c.image and images is not None and grids:
        images.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(grids[-1], images / c.image)
        row["image"] = c.image
    return row


def fmt(key: str, v: object) -> str:
    if v is None:
        return "-"
    if key in ("high_quality", "class_acc", "class_share_min"):
        return f"{100 * float(v):.1f}%"
    if key == "modes":
        return f"{float(v):.0f}"
    return f"{float(v):.3g}"


def write_markdown(out: Path, rows: list[dict], todo: list[Case], judge_acc: float | None, floor: float | None,
                   seconds: float, cifar_acc: float | None = None) -> None:
    by = {c.name: c for c in todo}
    lines = [
        "# Learning quality: every generation preset scored like the papers score it",
        "",
        f"Written by `python benchmarks/quality.py` on {time.strftime('%Y-%m-%d')} (2 CPU cores, torch CPU build, "
        f"bf16 where the CPU has it; {seconds / 60:.0f} minutes in all). Rerun it to keep this page true.",
        "",
        "Judges: the 2-D toys are scored against the true mixture on 2,500 samples (PacGAN's protocol: a point is "
        "high quality within 3 std of its nearest mode; modes = modes with a high-quality point; reverse KL of the "
        "mode histogram). The MNIST cases are read by ganforge's own MNIST classifier (`ganforge classifier train "
        "--data mnist --channels 1 --epochs 2`"
        + (f", {100 * judge_acc:.2f}% on the test split" if judge_acc else "") + "), trained on the training split "
        "and never on generated images: class accuracy of `--class K` samples (200 per class), its mean confidence "
        "and the smallest share of a class among 1,000 samples (real digits: 0.99 and 8.5%), and the Frechet distance "
        "in its feature space (FD) against 1,000 (2,000 for the cGANs) images of the MNIST *test* split (real test "
        "vs real training digits: 1.7). The published numbers were measured with other judges: compare "
        "ranks and orders of magnitude, and for DCGAN the reference setting run here, in the same judge's space.",
        "",
        "The CIFAR-10 cases use the CIFAR-10 test split of ../shared/data (the only CIFAR-10 images here) cut in two "
        "halves, the first 500 images of each class (`train/`, what the GANs and the judge learn from) and the other "
        "500 (`test/`, held out): the judge is `ganforge classifier train --data runs/quality/cifar5k --epochs 20`"
        + (f" ({100 * cifar_acc:.1f}% on the held-out half)" if cifar_acc else "") + ", and FD is measured in its "
        "feature space against held-out images: all 5,000 for the runs on the whole half (`--n 5000`), 1,000 (100 "
        "a class) for the 1,000-image runs (`data.limit` and `--n` spread a class folder's subset over its "
        "classes).",
        "",
        "| case | wall time (train) | result | published reference | goal |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        c = by[r["case"]]
        if "error" in r:
            result = f"failed: {r['error']}"
        else:
            result = " / ".join(f"{k} {fmt(k, r.get(k))}" for k in c.show)
        t = f"{r['train_s'] / 60:.1f} min" if "train_s" in r else "(same run)"
        lines.append(f"| {c.summary} | {t} | {result} | {c.reference} | {c.goal} |")
    if floor is not None:
        lines += ["", f"StackedMNIST floor: real test images score modes_kl {floor:.3f} under the same judge (26,000 "
                      "samples over 1,000 modes, and the judge's own mistakes): no generator can score below it here."]
    lines += ["", "## Commands", ""]
    for r in rows:
        c = by[r["case"]]
        if c.train:
            lines.append(f"- {c.name}: `ganforge train {as_shown(' '.join(c.train))} --out runs/quality/{c.name}` then "
                         f"`ganforge evaluate runs/quality/{c.reuse or c.name}/{c.checkpoint} "
                         f"{as_shown(' '.join(c.evaluate))}`")
        else:
            lines.append(f"- {c.name}: `ganforge evaluate runs/quality/{c.reuse}/{c.checkpoint} "
                         f"{as_shown(' '.join(c.evaluate))}`")
    shown = [r for r in rows if r.get("image")]
    if shown:
        lines += ["", "## Samples", ""]
        for r in shown:
            lines += [f"{by[r['case']].summary}:", "", f"![{r['case']}](images/{r['image']})", ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


def merge(saved: dict, rows: list[dict], meta: dict, order: list[Case]) -> tuple[list[dict], dict]:
    """An earlier run's rows (``--json``) with this run's in place of theirs, in the page's order; its time less
    the replaced rows' plus this run's, and its judges' figures where this run had no judge of that kind."""
    new = {r["case"]: r for r in rows}
    old = {r["case"]: r for r in saved["rows"]}
    spent = sum(r.get("train_s", 0) + r.get("eval_s", 0) for name, r in old.items() if name in new)
    merged = {**saved["meta"], **{k: v for k, v in meta.items() if v is not None}}
    merged["seconds"] = saved["meta"]["seconds"] - spent + meta["seconds"]
    both = {**old, **new}
    return [both[c.name] for c in order if c.name in both], merged


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma list of case names")
    ap.add_argument("--work", default="runs/quality", help="run directories and the judge (default runs/quality)")
    ap.add_argument("--mnist", default=str(ROOT.parent / "shared" / "data" / "mnist"), help="the MNIST IDX folder")
    ap.add_argument("--cifar", default=str(ROOT.parent / "shared" / "data" / "cifar10_test_jpg" / "cifar10_jpg_test.tar.gz"),
                    help="the CIFAR-10 test split as JPEG class folders in a tar.gz (cut into two halves here)")
    ap.add_argument("--out", default="docs/quality.md")
    ap.add_argument("--images", default="docs/images", help="where the sample grids of the table go")
    ap.add_argument("--json", help="also write the rows as JSON")
    ap.add_argument("--rows", help="rewrite the page from the rows a previous run wrote with --json (no training)")
    ap.add_argument("--merge", help="with --only: keep the other cases' rows from this --json file of an earlier run, "
                    "so that the page (and --json) hold every case")
    args = ap.parse_args()
    all_cases = cases(args.mnist)
    names = [n.strip() for n in args.only.split(",")] if args.only else [c.name for c in all_cases]
    unknown = set(names) - {c.name for c in all_cases}
    if unknown:
        sys.exit(f"unknown case(s) {sorted(unknown)}; choices: {', '.join(c.name for c in all_cases)}")
    todo = [c for c in all_cases if c.name in names]
    if args.rows:
        saved = json.loads(Path(args.rows).read_text(encoding="utf-8"))
        rows, meta = saved["rows"], saved["meta"]
        write_markdown(ROOT / args.out, rows, all_cases, meta["judge_acc"], meta["floor"], meta["seconds"],
                       meta.get("cifar_judge_acc"))
        print(f"wrote {args.out} from {args.rows}", file=sys.stderr)
        return 0
    work = (ROOT / args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    have_mnist = Path(args.mnist).is_dir()
    judge = judge_classifier(work, args.mnist) if have_mnist and any(c.needs_mnist for c in todo) else None
    cifar = None
    if Path(args.cifar).is_file() and any(c.needs_cifar for c in todo):
        halves = cifar_halves(work, Path(args.cifar))
        cifar = (halves, cifar_judge(work, halves))
    start, rows = time.time(), []
    for c in todo:
        if c.needs_mnist and not have_mnist:
            rows.append({"case": c.name, "error": f"no MNIST at {args.mnist}"})
            continue
        if c.needs_cifar and cifar is None:
            rows.append({"case": c.name, "error": f"no CIFAR-10 archive at {args.cifar}"})
            continue
        print(f"{c.name}...", file=sys.stderr, flush=True)
        rows.append(run_case(c, work, judge, ROOT / args.images, cifar))
        print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    floor = stacked_floor(judge, args.mnist) if judge and any("stacked" in c.name for c in todo) else None
    meta = {"judge_acc": judge_accuracy(judge) if judge else None, "floor": floor, "seconds": time.time() - start,
            "cifar_judge_acc": judge_accuracy(cifar[1]) if cifar else None}
    if args.merge:
        rows, meta = merge(json.loads(Path(args.merge).read_text(encoding="utf-8")), rows, meta, all_cases)
        todo = all_cases
    write_markdown(ROOT / args.out, rows, todo, meta["judge_acc"], meta["floor"], meta["seconds"],
                   meta["cifar_judge_acc"])
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "meta": meta}, indent=1), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
