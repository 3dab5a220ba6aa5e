"""benchmarks/gpu_check.py in its --quick mode on the CPU, so that the GPU check never rots: every part runs and
reports numbers (or says why it was skipped), and the JSON and the Markdown table are written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_quick_mode_runs(tmp_path: Path) -> None:
    out = tmp_path / "quick.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--quick", "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["env"]["quick"] and res["bench"][0]["recipe"] == "dcgan" and res["bench"][0]["images_per_s"] > 0
    assert res["train"]["16px"]["steps_per_s"] > 0
    assert "skipped" in res["torchrun"] and "skipped" in res["fp16"]  # no CUDA here
    assert res["features"]["inception_images_per_s"] > 0 and res["features"]["frechet_distance_2048d_s"] > 0
    assert "| bench dcgan small fp32 |" in r.stdout and "| features |" in r.stdout
