"""The trainer end to end through the CLI: run directory, exact resume, signals, sampling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.runlog import read_jsonl

from .conftest import tiny_overrides, write_images

LOSS_KEYS = ("loss_d", "loss_g", "d_real", "d_fake")


@pytest.fixture
def images(tmp_path: Path) -> Path:
    write_images(tmp_path / "imgs", 40, size=(20, 20))
    return tmp_path / "imgs"


def losses(run: Path) -> list[tuple]:
    return [(r["step"], *(r[k] for k in LOSS_KEYS)) for r in read_jsonl(run / "metrics.jsonl")]


def train(run: Path, data: Path, *extra: str, **over: object) -> int:
    return main(["train", "--data", str(data), "--out", str(run), *tiny_overrides(**over), *extra])


def test_a_run_leaves_config_metrics_samples_checkpoints(tmp_path: Path, images: Path) -> None:
    run = tmp_path / "run"
    assert train(run, images, **{"train.epochs": 3, "train.keep_checkpoints": 2, "train.tensorboard": "true"}) == 0
    assert (run / "config.yaml").is_file() and (run / "losses.png").is_file() and (run / "run.json").is_file()
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png", "epoch_003.png"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["epoch_002.pt", "epoch_003.pt"]
    assert any((run / "tb").iterdir())
    rows = read_jsonl(run / "metrics.jsonl")
    assert [r["step"] for r in rows] == [2, 4, 5, 6, 8, 10, 12, 14, 15]  # every 2 steps and at epoch ends (5 steps)
    assert all(0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1 and r["images_per_s"] > 0 for r in rows)
    ck = torch.load(run / "last.pt", weights_only=True)
    assert ck["step"] == 15 and ck["epoch"] == 3 and ck["recipe"] == "dcgan"
    assert ck["config"]["train"]["epochs"] == 3 and ck["fixed_inputs"]["z"].shape == (64, 8)
    assert set(ck["state"]["nets"]) == {"g", "d", "g_ema"} and set(ck["state"]["optimizers"]) == {"g", "d"}
    grid = Image.open(run / "samples" / "epoch_003.png")
    assert grid.size == (4 * (8 * 18 + 2), 4 * (8 * 18 + 2))  # 64 samples of 16x16 in an 8x8 grid, 2-pixel padding, x4


def test_exact_resume_equals_one_go(tmp_path: Path, images: Path) -> None:
    over = {"train.deterministic": "true", "data.crop": "random", "data.load_size": 20, "data.flip": "true",
            "model.ema": 0.9}
    assert train(tmp_path / "one", images, **{"train.epochs": 2}, **over) == 0
    assert train(tmp_path / "two", images, **{"train.epochs": 1}, **over) == 0
    assert main(["resume", str(tmp_path / "two"), "train.epochs=2"]) == 0
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert [r[0] for r in one] == [2, 4, 5, 6, 8, 10] and one == two
    a = torch.load(tmp_path / "one" / "last.pt", weights_only=True)["state"]["nets"]["g"]
    b = torch.load(tmp_path / "two" / "last.pt", weights_only=True)["state"]["nets"]["g"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "two" / "samples" / "epoch_002.png").read_bytes() == \
        (tmp_path / "one" / "samples" / "epoch_002.png").read_bytes()


def test_sigterm_saves_last_and_resume_finishes_identically(tmp_path: Path, images: Path) -> None:
    """A run killed mid-epoch by SIGTERM saves last.pt; the resumed run ends where one go ends."""
    over = {"train.epochs": 40, "train.deterministic": "true", "data.flip": "true"}
    assert train(tmp_path / "ref", images, **over) == 0
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "ganforge", "train", "--data", str(images), "--out", str(run),
           *tiny_overrides(**over)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 60
    while time.time() < deadline and not (run / "checkpoints" / "epoch_002.pt").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "stopped by SIGTERM" in err and "ganforge resume" in err and "Traceback" not in err
    stopped_at = torch.load(run / "last.pt", weights_only=True)["step"]
    assert 10 <= stopped_at < 200
    assert main(["resume", str(run)]) == 0
    assert losses(run) == losses(tmp_path / "ref")


def test_sample_grid_and_folder_from_run_and_checkpoint(tmp_path: Path, images: Path) -> None:
    run = tmp_path / "run"
    assert train(run, images, **{"train.epochs": 1}) == 0
    assert main(["sample", str(run), "--n", "10", "--out", str(tmp_path / "g.png"), "--seed", "3"]) == 0
    assert Image.open(tmp_path / "g.png").size == (4 * (4 * 18 + 2), 4 * (3 * 18 + 2))  # 16 px cells shown 4x: 64 px
    assert main(["sample", str(run), "--n", "10", "--out", str(tmp_path / "g1.png"), "--seed", "3", "--scale", "1"]) == 0
    assert Image.open(tmp_path / "g1.png").size == (4 * 18 + 2, 3 * 18 + 2)  # --scale 1: native
    assert np.array_equal(np.asarray(Image.open(tmp_path / "g.png"))[::4, ::4], np.asarray(Image.open(tmp_path / "g1.png")))
    assert main(["sample", str(run / "checkpoints" / "epoch_001.pt"), "--n", "5", "--out",
                 str(tmp_path / "each") + "/", "--seed", "3"]) == 0
    files = sorted((tmp_path / "each").iterdir())
    assert len(files) == 5 and Image.open(files[0]).size == (16, 16)
    assert main(["sample", str(run), "--n", "5", "--out", str(tmp_path / "again") + "/", "--seed", "3"]) == 0
    assert [f.read_bytes() for f in sorted((tmp_path / "again").iterdir())] == [f.read_bytes() for f in files]
    assert main(["sample", str(run), "--n", "5", "--out", str(tmp_path / "other") + "/", "--seed", "4"]) == 0
    assert [f.read_bytes() for f in sorted((tmp_path / "other").iterdir())] != [f.read_bytes() for f in files]


def test_metrics_written_after_the_checkpoint_are_dropped_on_resume(tmp_path: Path, images: Path) -> None:
    run = tmp_path / "run"
    assert train(run, images, **{"train.epochs": 1}) == 0
    with open(run / "metrics.jsonl", "a") as f:  # as if the process died after logging step 7
        f.write(json.dumps({"step": 7, "loss_d": 9.0}) + "\n")
    assert main(["resume", str(run), "train.epochs=2"]) == 0
    assert all(r.get("loss_d") != 9.0 for r in read_jsonl(run / "metrics.jsonl"))


def test_init_from_checkpoint_of_same_recipe(tmp_path: Path, images: Path) -> None:
    import torch

    from ganforge import checkpoint, trainer
    from ganforge.configure import from_dict

    assert train(tmp_path / "a", images, **{"train.epochs": 1}) == 0
    ck = checkpoint.load(tmp_path / "a")
    # the networks of a warm start are the checkpoint's, its optimisers and step are new
    t = trainer.start(from_dict(ck["config"]), tmp_path / "b", init=str(tmp_path / "a" / "last.pt"))
    try:
        for name, net in t.recipe.nets.items():
            for key, value in net.state_dict().items():
                assert torch.equal(value, ck["state"]["nets"][name][key]), (name, key)
        assert t.step == 0 and all(not opt.state for opt in t.recipe.optimizers.values())
    finally:
        t.lock.release()
    fresh = trainer.start(from_dict(ck["config"]), tmp_path / "c")
    try:  # without --init the same config starts elsewhere
        g = fresh.recipe.nets["g"].state_dict()
        assert any(not torch.equal(v, ck["state"]["nets"]["g"][k]) for k, v in g.items() if v.is_floating_point())
    finally:
        fresh.lock.release()
    assert train(tmp_path / "d", images, "--init", str(tmp_path / "a" / "last.pt"), **{"train.epochs": 1}) == 0
    assert checkpoint.load(tmp_path / "d")["step"] == ck["step"]  # one epoch of its own, not counted on from a
