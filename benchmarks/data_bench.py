"""The data path on a large set: a JPEG folder streamed (decoded every epoch) against the same images prepared once
by `ganforge data prepare` (memory-mapped uint8 shards), both streamed by DataLoader workers, against what
DCGAN-64 consumes (docs/performance.md).

    python benchmarks/data_bench.py [--n 300000] [--size 64] [--work /tmp/ganforge_data_bench] [--seconds 20]

The JPEGs are the built-in pizzas drawn at 80 px (1,000 distinct ones, written round-robin under N names), as an
LSUN-like folder of small JPEGs; the timings read batches of 64 for --seconds each after one warm-up batch.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch


def make_jpegs(folder: Path, n: int) -> None:
    from PIL import Image

    from ganforge.data.builtin import BUILTIN_DATA

    pool = BUILTIN_DATA.get("pizza")(n=1000, size=80, seed=0).images
    encoded = []
    for arr in pool:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG", quality=90)
        encoded.append(buf.getvalue())
    for i in range(n):
        sub = folder / f"{i // 10000:03d}"
        if i % 10000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{i:07d}.jpg").write_bytes(encoded[i % len(encoded)])


def rate(spec: str, size: int, seconds: float, workers: int) -> float:
    from ganforge.config import DataConfig
    from ganforge.data.loader import Data

    data = Data(DataConfig(source=spec, image_size=size, channels=3, in_memory="no", workers=workers, flip=True),
                64, 0, torch.device("cpu"))
    it = data.batches(0)
    next(it)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n += len(next(it).image)
    return n / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300_000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--work", default="/tmp/ganforge_data_bench")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    work = Path(args.work)
    jpegs, prep = work / f"jpeg_{args.n}", work / f"prepared_{args.n}_{args.size}"
    result: dict = {"n": args.n, "size": args.size, "cpus": os.cpu_count(), "workers": args.workers}
    if not jpegs.is_dir():
        t = time.time()
        make_jpegs(jpegs, args.n)
        result["make_jpegs_s"] = round(time.time() - t, 1)
    if not prep.is_dir():
        from ganforge.data.preparing import prepare

        t = time.time()
        prepare(str(jpegs), str(prep), args.size, progress=False)
        result["prepare_s"] = round(time.time() - t, 1)
    result["prepared_mb"] = round(sum(f.stat().st_size for f in prep.iterdir()) / 2**20, 1)
    result["jpeg_folder_img_s"] = round(rate(str(jpegs), args.size, args.seconds, args.workers), 1)
    result["prepared_img_s"] = round(rate(str(prep), args.size, args.seconds, args.workers), 1)
    exe = shutil.which("ganforge") or str(Path(sys.executable).with_name("ganforge"))
    out = work / "bench.json"
    subprocess.run([exe, "bench", "--recipe", "dcgan", "--configs", "paper", "--json", str(out)], check=True,
                   capture_output=True)
    rows = json.loads(out.read_text())["rows"]
    result["dcgan64_train_img_s"] = round(rows[0]["images_per_s"], 1)
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
