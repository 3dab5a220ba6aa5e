"""One prepared check of ganforge on a CUDA machine (issue 20), writing one JSON file and printing a Markdown table.

    python benchmarks/gpu_check.py --out gpu_check.json          # on a GPU machine: at most ~8 minutes
    python benchmarks/gpu_check.py --quick --out quick.json      # anywhere (a CPU too), under a minute

Parts (each one records its numbers or its error and the next one runs):
  bench      `ganforge bench` of every recipe's paper configuration in fp32, bf16 and fp16 (CUDA), and DCGAN with
             train.compile; --quick: DCGAN's small configuration, fp32, 2 steps
  train      short real trainings: DCGAN at 32 and 64 px, batch 64, in-memory data (the CIFAR-10 test split of
             ../shared/data when present, else the built-in pizzas), steps/s from metrics.jsonl; CycleGAN's
             paper step time comes from the bench part
  torchrun   `torchrun --nproc_per_node N` for N = 1 and N = all GPUs (NCCL), the same global batch, the ranks'
             weights compared with the 1-process run after a few steps; --quick on a CPU: skipped (gloo is tested
             by the suite)
  fp16       fp16 with the gradient scaler on WGAN-GP (gradient penalty) and a DCGAN with R1: finite losses (CUDA)
  features   Inception feature extraction throughput (random weights: speed only; --quick: 8 images), the time
             the 100,000 images of FID-50k (50k generated + 50k real) take through it at that rate, and the Frechet
             distance of two 2048-d Gaussians
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GANFORGE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def ganforge(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganforge", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def part(name: str, results: dict[str, Any], fn: Callable[[], Any]) -> None:
    t = time.time()
    try:
        results[name] = fn()
    except Exception as e:  # noqa: BLE001 - a check that fails is a result; the next part runs
        results[name] = {"error": f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"}
    results.setdefault("seconds", {})[name] = round(time.time() - t, 1)
    print(f"gpu_check: {name} done in {results['seconds'][name]} s", file=sys.stderr)


def bench(quick: bool, cuda: bool) -> list[dict[str, Any]]:
    from ganforge import bench as b

    if quick:
        cases = b.plan(["dcgan"], None, ["small"], None, None, "fp32", "auto", None, [], 2, 1)
        return b.run(cases, in_process=True)
    rows: list[dict[str, Any]] = []
    for precision in ("fp32", "bf16", "fp16") if cuda else ("fp32", "bf16"):
        rows += b.run(b.plan(None, None, ["paper"], None, None, precision, "auto", None, [], 10, 3))
    rows += b.run(b.plan(["dcgan"], None, ["paper"], None, None, "bf16" if cuda else "fp32", "auto", None,
                         ["train.compile=true"], 10, 3))
    return [{k: r.get(k) for k in ("recipe", "config", "size", "batch", "precision", "compile", "ms_per_step", "images_per_s",
                                   "peak_mem_mib", "error") if k in r} for r in rows]


def data_spec(quick: bool, work: Path) -> str:
    """The CIFAR-10 test split of ../shared/data (a tar.gz of JPEGs in class folders), unpacked once; the built-in
    pizzas when it is not at hand or in --quick."""
    import tarfile

    archive = SHARED / "cifar10_test_jpg" / "cifar10_jpg_test.tar.gz"
    if quick or not archive.is_file():
        return "builtin:pizza"
    dest = work / "cifar10_jpg"
    if not dest.is_dir():
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")  # the "data" filter refuses members that leave dest
    found = [p for p in dest.rglob("test") if p.is_dir()]
    return f"classes:{found[0]}" if found else str(dest)


def train(quick: bool, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"data": data_spec(quick, work)}
    sizes = (16,) if quick else (32, 64)
    steps = 6 if quick else 300
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            r = ganforge("train", "--preset", "dcgan-cifar10", "--data", out["data"], "--out", f"{tmp}/run",
                         f"data.image_size={size}", "train.batch_size=64", f"train.steps={steps}", "train.log_every=50",
                         "train.report=false", "train.tensorboard=false", "train.progress=false",
                         *(["data.builtin_n=640", "model.g_width=8", "model.d_width=8"] if quick else []))
            if r.returncode:
                out[f"{size}px"] = {"error": r.stderr.strip().splitlines()[-1]}
                continue
            rows = [json.loads(x) for x in Path(f"{tmp}/run/metrics.jsonl").read_text().splitlines()]
            ips = [row["images_per_s"] for row in rows if "images_per_s" in row][1:] or \
                [row["images_per_s"] for row in rows if "images_per_s" in row]
            out[f"{size}px"] = {"steps_per_s": round(sum(ips) / len(ips) / 64, 2), "images_per_s": round(sum(ips) / len(ips), 1)}
    out["goal"] = "DCGAN 32 px batch 64: >= 25 steps/s on a GPU (StudioGAN's logs imply about 22)"
    return out


def torchrun(quick: bool, cuda: bool) -> dict[str, Any]:
    n_gpus = torch.cuda.device_count() if cuda else 0
    if not cuda:
        return {"skipped": "no CUDA (torchrun with gloo on CPUs is covered by tests/test_distributed.py)"}
    out: dict[str, Any] = {"gpus": n_gpus}
    finals = {}
    for n in sorted({1, n_gpus}):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={n}", "-m", "ganforge", "train",
                   "--preset", "dcgan-pizza", "--out", f"{tmp}/run", "train.steps=20", "train.batch_size=64",
                   "train.deterministic=true", "train.precision=fp32", "train.report=false", "train.progress=false"]
            t = time.time()
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            if r.returncode:
                out[f"n{n}"] = {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"}
                continue
            ck = torch.load(f"{tmp}/run/last.pt", weights_only=True, map_location="cpu")
            finals[n] = ck["state"]["nets"]["g"]
            rows = [json.loads(x) for x in Path(f"{tmp}/run/metrics.jsonl").read_text().splitlines()]
            ips = [row["images_per_s"] for row in rows if "images_per_s" in row]
            out[f"n{n}"] = {"wall_s": round(time.time() - t, 1), "images_per_s": ips[-1] if ips else None}
    if len(finals) == 2:
        a, b = finals[1], finals[n_gpus]
        out["max_weight_diff_vs_1_process"] = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    if "n1" in out and f"n{n_gpus}" in out and n_gpus > 1 and out["n1"].get("images_per_s"):
        out["scaling"] = round(out[f"n{n_gpus}"]["images_per_s"] / out["n1"]["images_per_s"], 2)
    return out


def fp16(cuda: bool) -> dict[str, Any]:
    if not cuda:
        return {"skipped": "fp16 autocast with a gradient scaler needs CUDA (a CPU refuses train.precision=fp16)"}
    out = {}
    for name, args in (("wgangp", ["--preset", "wgangp-cifar10", "--data", "builtin:pizza", "data.image_size=32"]),
                       ("dcgan_r1", ["--preset", "dcgan-pizza", "model.r1=10"])):
        with tempfile.TemporaryDirectory() as tmp:
            r = ganforge("train", *args, "--out", f"{tmp}/run", "train.precision=fp16", "train.steps=50",
                         "train.log_every=10", "train.report=false", "train.progress=false")
            if r.returncode:
                out[name] = {"error": r.stderr.strip().splitlines()[-1]}
                continue
            rows = [json.loads(x) for x in Path(f"{tmp}/run/metrics.jsonl").read_text().splitlines()]
            vals = [v for row in rows for k, v in row.items() if k.startswith(("loss", "gp", "r1"))]
            out[name] = {"finite": all(math.isfinite(v) for v in vals), "rows": len(rows)}
    return out


def features(quick: bool, device: str) -> dict[str, Any]:
    from ganforge.metrics.inception import FIDInception
    from ganforge.metrics.scores import feature_stats, frechet_distance

    out: dict[str, Any] = {}
    net = FIDInception().to(device).eval()  # random weights: the speed of the real network, not its features
    n, batch = (8, 8) if quick else (2048, 200)  # quick: one timed batch of 8 (a CPU runs about 5-10 images a second)
    x = torch.rand(batch, 3, 299, 299, device=device) * 2 - 1
    with torch.inference_mode():
        net(x[:8])
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.time()
        for _ in range(max(1, n // batch)):
            net(x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    out["inception_images_per_s"] = round(max(1, n // batch) * batch / (time.time() - t), 1)
    out["inception_fid50k_features_s_estimate"] = round(100_000 / out["inception_images_per_s"], 1)  # 50k fake + 50k real
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4096, 2048)), rng.standard_normal((4096, 2048)) + 0.1
    (ma, sa), (mb, sb) = feature_stats(a), feature_stats(b)
    t = time.time()
    frechet_distance(ma, sa, mb, sb)
    out["frechet_distance_2048d_s"] = round(time.time() - t, 2)
    return out


def table(results: dict[str, Any]) -> str:
    lines = ["| part | result |", "|---|---|"]
    for k in ("env", "bench", "train", "torchrun", "fp16", "features"):
        v = results.get(k)
        if isinstance(v, list):
            for row in v:
                lines.append(f"| bench {row.get('recipe')} {row.get('config')} {row.get('precision')}"
                             f"{' compile' if row.get('compile') else ''} | "
                             + (row["error"] if row.get("error") else f"{row.get('ms_per_step'):.4g} ms/step, {row.get('images_per_s'):.4g} img/s")
                             + " |")
        else:
            lines.append(f"| {k} | {json.dumps(v)} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small versions of every part (a CPU: under a minute)")
    ap.add_argument("--out", required=True, help="the JSON file to write")
    args = ap.parse_args()
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    results: dict[str, Any] = {"env": {"torch": torch.__version__, "device": torch.cuda.get_device_name(0) if cuda else "cpu",
                                       "gpus": torch.cuda.device_count(), "cpus": os.cpu_count(), "quick": args.quick,
                                       "date": time.strftime("%Y-%m-%d")}}
    part("bench", results, lambda: bench(args.quick, cuda))
    work = Path(tempfile.mkdtemp(prefix="gpu_check_"))
    part("train", results, lambda: train(args.quick, work))
    part("torchrun", results, lambda: torchrun(args.quick, cuda))
    part("fp16", results, lambda: fp16(cuda))
    part("features", results, lambda: features(args.quick, device))
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    failed = [k for k, v in results.items() if isinstance(v, dict) and "error" in v]
    failed += [f"bench {r.get('recipe')}" for r in results.get("bench") or [] if isinstance(r, dict) and r.get("error")]
    if failed:
        print(f"gpu_check: failed parts: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
