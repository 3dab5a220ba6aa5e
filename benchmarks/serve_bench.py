"""Throughput and latency of `ganforge serve` under concurrent clients (docs/performance.md).

    python benchmarks/serve_bench.py [RUN ...] [--clients 16] [--requests 8] [--n 8] [--port 0]

starts `ganforge serve RUN` in its own process (as a user would), waits for /api/health, then lets every client
thread send its requests (POST /api/generate, n images each, seeds varied) one after another, all clients at once,
and prints requests/s, images/s and the latency percentiles; --json FILE writes them too.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict) -> tuple[float, int]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=300) as r:
        size = len(r.read())
        assert r.status == 200
    return time.perf_counter() - t, size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="*", default=["runs/demo"])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=8, help="requests per client")
    ap.add_argument("--n", type=int, default=8, help="images per request")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    port = args.port or free_port()
    exe = Path(sys.executable).with_name("ganforge")
    cmd = [str(exe) if exe.exists() else "ganforge", "serve", *args.runs, "--port", str(port)]
    server = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(base + "/api/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.time() > deadline:
                print(server.stderr.read() if server.stderr else "", file=sys.stderr)
                print("serve_bench: the server did not start", file=sys.stderr)
                return 1
            time.sleep(0.2)
        with urllib.request.urlopen(base + "/api/models") as r:
            model = json.loads(r.read())["models"][0]["name"]
        post(base + "/api/generate", {"model": model, "n": args.n, "seed": 0})  # warm-up

        def client(c: int) -> list[float]:
            return [post(base + "/api/generate", {"model": model, "n": args.n, "seed": c * 1000 + i})[0]
                    for i in range(args.requests)]

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            latencies = sorted(x for xs in pool.map(client, range(args.clients)) for x in xs)
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(30)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(round(p / 100 * (len(latencies) - 1))))]

    total = len(latencies)
    result = {"model": model, "runs": args.runs, "clients": args.clients, "requests": total, "n": args.n,
              "wall_s": round(wall, 2), "requests_per_s": round(total / wall, 2),
              "images_per_s": round(total * args.n / wall, 1), "latency_ms": {
                  "p50": round(pct(50) * 1000, 1), "p90": round(pct(90) * 1000, 1), "p99": round(pct(99) * 1000, 1),
                  "mean": round(statistics.mean(latencies) * 1000, 1), "max": round(latencies[-1] * 1000, 1)},
              "cpus": os.cpu_count()}
    print(f"{args.clients} clients x {args.requests} requests of {args.n} images from {model}: "
          f"{result['requests_per_s']} requests/s, {result['images_per_s']} images/s; latency ms p50 "
          f"{result['latency_ms']['p50']}, p90 {result['latency_ms']['p90']}, p99 {result['latency_ms']['p99']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
