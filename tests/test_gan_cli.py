"""The GAN family through the command: conditional training and --class sampling, toy runs (scatter, mode
metrics, CSV), presets, bad input as one line with exit code 2, and a NaN that stops the run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import presets
from ganforge.cli import main
from ganforge.runlog import read_jsonl

from .conftest import write_images
from .test_cli import one_line_error

QUIET = ["train.progress=false", "train.tensorboard=false"]
TINY_MLP = ["model.latent_dim=8", "model.g_hidden=16,32", "model.d_hidden=32,16", "train.batch_size=8",
            "train.log_every=2", "data.image_size=8", *QUIET]


@pytest.fixture
def classes(tmp_path: Path) -> Path:
    root = tmp_path / "classes"
    for i, name in enumerate(["cat", "dog", "fox"]):
        write_images(root / name, 8, size=(8, 8), seed=i)
    return root


def test_conditional_run_samples_a_class_grid_and_one_class(tmp_path: Path, classes: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert main(["train", "--data", f"classes:{classes}", "--out", str(run), "recipe=cgan", "train.epochs=2",
                 "train.n_samples=6", *TINY_MLP]) == 0
    grid = Image.open(run / "samples" / "epoch_002.png")
    assert grid.size == (8 * (2 * 10 + 2), 8 * (3 * 10 + 2))  # one row per class (3), 2 columns; 8 px cells x8
    assert main(["sample", str(run), "--out", str(tmp_path / "grid.png"), "--n", "12"]) == 0
    assert Image.open(tmp_path / "grid.png").size == (8 * (4 * 10 + 2), 8 * (3 * 10 + 2))  # 8 px cells shown 8x: 64 px
    assert main(["sample", str(run), "--out", str(tmp_path / "dogs") + "/", "--n", "3", "--class", "dog"]) == 0
    assert main(["sample", str(run), "--out", str(tmp_path / "ones") + "/", "--n", "3", "--class", "1"]) == 0
    a = [np.asarray(Image.open(p)) for p in sorted((tmp_path / "dogs").iterdir())]
    b = [np.asarray(Image.open(p)) for p in sorted((tmp_path / "ones").iterdir())]
    assert len(a) == 3 and all(np.array_equal(x, y) for x, y in zip(a, b))  # 'dog' is class 1
    line = one_line_error(capsys, ["sample", str(run), "--out", str(tmp_path / "g.png"), "--class", "3"])
    assert "--class '3' is out of range; allowed: 0..2 or a class name (cat, dog, fox)" in line


def test_conditional_recipe_on_unlabeled_data_and_class_on_unconditional(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    flat = tmp_path / "flat"
    write_images(flat, 8, size=(8, 8))
    line = one_line_error(capsys, ["train", "--data", str(flat), "--out", str(tmp_path / "c"), "recipe=cgan", *TINY_MLP])
    assert "recipe cgan is class-conditional but the data has no labels" in line
    run = tmp_path / "u"
    assert main(["train", "--data", str(flat), "--out", str(run), "recipe=mlp", "train.epochs=1", *TINY_MLP]) == 0
    line = one_line_error(capsys, ["sample", str(run), "--out", str(tmp_path / "g.png"), "--class", "0"])
    assert "--class 0: recipe mlp is unconditional (it takes no class)" in line


@pytest.mark.parametrize("override,message", [
    ("model.gp=-1", "config key model.gp must be >= 0"),
    ("model.n_critic=0", "config key model.n_critic must be >= 1; got 0"),
    ("model.packing=3", "model.packing=3 does not divide train.batch_size=8"),
    ("model.loss=wgan", "config key model.loss must be one of"),
])
def test_bad_toolbox_values_from_the_command(tmp_path: Path, capsys: pytest.CaptureFixture, override: str, message: str) -> None:
    line = one_line_error(capsys, ["train", "--data", "toy:ring", "--out", str(tmp_path / "r"), "recipe=mlp", *TINY_MLP,
                                   override])
    assert message in line
    assert not (tmp_path / "r").exists()


def test_bad_toy_spec(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    line = one_line_error(capsys, ["train", "--data", "toy:rign", "--out", str(tmp_path / "r"), "recipe=mlp", *TINY_MLP])
    assert "unknown toy distribution 'rign'; choices: ring, grid, spiral" in line


def test_toy_run_writes_scatter_and_mode_metrics_and_samples_points(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "toy"
    assert main(["train", "--preset", "toy-ring", "--out", str(run), "train.epochs=2", "data.builtin_n=512",
                 "model.eval_points=300", *QUIET]) == 0
    assert Image.open(run / "samples" / "epoch_002.png").size[0] > 100
    rows = [r for r in read_jsonl(run / "metrics.jsonl") if "modes" in r]
    assert [r["step"] for r in rows] == [2, 4]
    assert all(0 <= r["modes"] <= 8 and 0 <= r["high_quality"] <= 1 and r["reverse_kl"] >= 0 for r in rows)
    assert main(["sample", str(run), "--n", "100", "--out", str(tmp_path / "pts.csv")]) == 0
    pts = np.loadtxt(tmp_path / "pts.csv", delimiter=",", skiprows=1)
    assert pts.shape == (100, 2) and np.isfinite(pts).all()
    assert (tmp_path / "pts.png").is_file() and "modes" in capsys.readouterr().err
    line = one_line_error(capsys, ["sample", str(run), "--out", str(tmp_path / "pts.txt")])
    assert "a toy run writes points as NAME.csv" in line


def test_every_preset_resolves(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    names = set(presets.PRESETS)
    assert {"mlp-mnist", "mlp-fashion-mnist", "wgangp-folder", "wgangp-cifar10", "wgangp-lsun-v1", "wgangp-lsun-v2",
            "cgan-mnist", "cgan-fashion-mnist", "cdcgan-cifar10", "toy-ring", "toy-grid", "toy-spiral"} <= names
    for name in sorted(names):
        extra = ["--data", str(tmp_path)] if presets.get(name).needs_data else []
        assert main(["train", "--preset", name, *extra, "--print-config"]) == 0, name
    v2 = presets.get("wgangp-lsun-v2").layer["model"]
    assert (v2["latent_dim"], v2["g_dropout"], v2["instance_noise"]) == (1024, 0.2, 0.001)


def test_nan_stops_the_run_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from ganforge import trainer
    from ganforge.config import parse_override
    from ganforge.configure import resolve
    from ganforge.errors import GanforgeError
    from ganforge.recipes.gan import MLPGAN

    layers = [{"recipe": "mlp", "data": {"source": "toy:ring", "builtin_n": 64}}]
    layers += [parse_override(o) for o in [*TINY_MLP, "train.epochs=3", "model.eval_points=50"]]
    run = tmp_path / "nan"
    t = trainer.start(resolve(layers), run)
    real_step = MLPGAN.train_step
    calls = {"n": 0}

    def step(self: MLPGAN, batch: object) -> dict:
        calls["n"] += 1
        out = real_step(self, batch)
        if calls["n"] >= 11:  # in the second epoch (8 steps per epoch), after epoch 1 was saved
            out["loss_d"] = torch.tensor(math.nan)
        return out

    monkeypatch.setattr(MLPGAN, "train_step", step)
    before = (run / "last.pt").read_bytes() if (run / "last.pt").exists() else None
    with pytest.raises(GanforgeError, match=r"loss_d became nan by step 12 \(steps 11-12\); training stopped; "
                                            r"the last good checkpoint is .*last.pt \(step 8\), left intact"):
        t.fit()
    assert before is None and torch.load(run / "last.pt", weights_only=True)["step"] == 8
