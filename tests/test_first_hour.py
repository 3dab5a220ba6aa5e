"""The first hour of a user (issue 19, training side): suggestions for mistyped keys, plain progress lines when
stderr is not a terminal, partial grids named by step, slim epoch checkpoints, learning rates logged, TensorBoard
tags grouped, optional Weights & Biases."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
import torch

from ganforge.cli import main
from ganforge.runlog import tb_tag

from .conftest import tiny_overrides, write_images


@pytest.mark.parametrize("override, says", [
    ("train.epoch=3", "unknown config key 'train.epoch' (did you mean train.epochs?)"),
    ("epochs=3", "unknown config key 'epochs' (did you mean train.epochs?)"),
    ("model.batch_size=8", "unknown config key 'model.batch_size' (did you mean train.batch_size?)"),
    ("optim.lrr=0.1", "(did you mean optim.lr?)"),
    ("trian.epochs=2", "unknown config key 'trian' (did you mean train?)"),
])
def test_unknown_keys_suggest_the_closest(override: str, says: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--out", str(tmp_path / "r"), override]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("imgs")
    write_images(root, 16)
    return root


def test_plain_progress_lines_and_partial_grids_by_step(images: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANFORGE_PROGRESS_SECONDS", "0")
    run = tmp_path / "run"
    # 16 images, batch 8: 2 steps an epoch; 3 steps stop inside epoch 2
    assert main(["train", "--data", str(images), "--out", str(run), *tiny_overrides(**{"train.progress": "true",
                                                                                        "train.steps": 3})]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("ganforge: train ")]
    assert lines[-1].startswith("ganforge: train 3/3 steps (100%)") and len(lines) == 4  # each step, and the end
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["epoch_001.png", "epoch_002_step_000003.png"]


def test_epoch_checkpoints_are_slim_unless_asked(images: Path, tmp_path: Path) -> None:
    slim, full = tmp_path / "slim", tmp_path / "full"
    for run, extra in ((slim, {}), (full, {"train.full_checkpoints": "true"})):
        assert main(["train", "--data", str(images), "--out", str(run), *tiny_overrides(**{"train.epochs": 2, **extra})]) == 0
    s = torch.load(slim / "checkpoints" / "epoch_002.pt", weights_only=True)
    f = torch.load(full / "checkpoints" / "epoch_002.pt", weights_only=True)
    last = torch.load(slim / "last.pt", weights_only=True)
    assert "optimizers" not in s["state"] and "rng" not in s and s["slim"]
    assert "optimizers" in f["state"] and "optimizers" in last["state"] and "rng" in last
    assert torch.equal(s["state"]["nets"]["g"]["main.0.weight"], last["state"]["nets"]["g"]["main.0.weight"])
    size = (slim / "checkpoints" / "epoch_002.pt").stat().st_size
    assert size < 0.6 * (full / "checkpoints" / "epoch_002.pt").stat().st_size  # Adam's moments are 2/3 of it
    # what epoch checkpoints are for works from the slim ones; resume needs only last.pt
    ck = str(slim / "checkpoints" / "epoch_001.pt")
    assert main(["sample", ck, "--n", "4", "--out", str(tmp_path / "g.png")]) == 0
    assert main(["train", "--data", str(images), "--out", str(tmp_path / "warm"), "--init", ck,
                 *tiny_overrides(**{"train.epochs": 1})]) == 0
    assert main(["resume", str(slim), "train.epochs=3"]) == 0


def test_learning_rates_logged_and_tensorboard_tags_grouped(images: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", "--data", str(images), "--out", str(run),
                 *tiny_overrides(**{"train.epochs": 2, "train.tensorboard": "true", "optim.lr": 1e-3, "optim.lr_d": 4e-3})]) == 0
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["lr_g"] == pytest.approx(1e-3) and rows[-1]["lr_d"] == pytest.approx(4e-3)
    assert [tb_tag(k) for k in ("loss_d", "d_real", "val_psnr", "images_per_s", "lr_g", "gp", "augment_p", "eval/fid",
                                "l1")] == ["loss/loss_d", "score/d_real", "val/val_psnr", "speed/images_per_s", "lr/lr_g",
                                           "penalty/gp", "augment/augment_p", "eval/fid", "train/l1"]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"loss/loss_d", "loss/loss_g", "score/d_real", "lr/lr_g", "speed/images_per_s"} <= tags
    assert not any("/" not in t for t in tags)


def test_weights_and_biases_optional(images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture) -> None:
    calls: dict[str, list] = {"init": [], "log": [], "finish": []}

    class Run:
        def log(self, values: dict, step: int) -> None:
            calls["log"].append((step, values))

        def finish(self) -> None:
            calls["finish"].append(True)

    def init(**kw: object) -> Run:
        calls["init"].append(kw)
        return Run()

    fake = types.SimpleNamespace(init=init, Image=lambda arr: ("image", arr.shape))
    monkeypatch.setitem(sys.modules, "wandb", fake)
    run = tmp_path / "run"
    assert main(["train", "--data", str(images), "--out", str(run), *tiny_overrides(**{"train.epochs": 1,
                                                                                        "train.wandb": "true"})]) == 0
    (kw,) = calls["init"]
    assert kw["project"] == "ganforge" and kw["name"] == "run" and kw["config"]["recipe"] == "dcgan"
    assert kw["id"] == json.loads((run / "run.json").read_text())["wandb_id"]  # resume continues the same W&B run
    logged = {k for _, v in calls["log"] for k in v}
    assert {"loss/loss_d", "lr/lr_g", "samples"} <= logged and calls["finish"] == [True]
    monkeypatch.setitem(sys.modules, "wandb", None)  # not installed
    assert main(["train", "--data", str(images), "--out", str(tmp_path / "no"), *tiny_overrides(**{"train.wandb": "true"})]) == 2
    assert "train.wandb=true needs the wandb package (pip install wandb" in capsys.readouterr().err
