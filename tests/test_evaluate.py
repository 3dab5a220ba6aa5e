"""``ganforge evaluate`` and eval during training, end to end on small runs and folders (classifier extractor;
the Inception extractor with random weights; offline errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ganforge.cli import main

from .conftest import write_images
from .test_cli import one_line_error


def tiny_gan(run: Path, recipe: str = "dcgan", **extra: object) -> None:
    over = {"recipe": recipe, "data.source": "builtin:pizza", "data.image_size": 16, "data.builtin_n": 128,
            "model.g_width": 8, "model.d_width": 8, "model.latent_dim": 16, "train.batch_size": 32, "train.epochs": 3,
            "train.keep_checkpoints": 0, "train.progress": "false", "train.tensorboard": "false", **extra}
    assert main(["train", "--out", str(run), *[f"{k}={v}" for k, v in over.items()]]) == 0


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_evaluate_all_checkpoints_writes_rows_curve_and_best(tmp_path: Path, pizza_cls: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    tiny_gan(run)
    assert main(["evaluate", str(run), "--extractor", f"classifier:{pizza_cls}", "--n", "96", "--checkpoints", "all",
                 "--metrics", "fid,kid,is,pr"]) == 0
    out = capsys.readouterr()
    assert "FD[classifier:pizza]" in out.out and "protocol:" in out.out and "best checkpoint: epoch" in out.err
    got = rows(run / "eval.jsonl")
    assert [r["epoch"] for r in got] == [1, 2, 3]
    for r in got:
        assert {"FD[classifier:pizza]", "KIDx1000[classifier:pizza]", "IS[classifier:pizza]", "precision", "recall"} <= set(r)
        p = r["protocol"]
        assert p["extractor"] == "classifier:pizza" and len(p["weights_sha256"]) == 64
        assert p["n_real"] == p["n_fake"] == 96 and p["split"] == "generator seed 1"  # held out: another seed
    best = min(got, key=lambda r: r["FD[classifier:pizza]"])
    assert json.loads((run / "best.json").read_text())["epoch"] == best["epoch"]
    ck = torch.load(run / "best.pt", weights_only=True)
    assert ck["epoch"] == best["epoch"]
    assert (run / "eval_FD_classifier_pizza.png").is_file()
    # --checkpoints best scores best.pt; the real features come from the cache the second time
    assert main(["evaluate", str(run), "--extractor", f"classifier:{pizza_cls}", "--n", "96", "--checkpoints", "best"]) == 0
    assert rows(run / "eval.jsonl")[-1]["FD[classifier:pizza]"] == pytest.approx(best["FD[classifier:pizza]"])


def test_eval_during_training_keeps_best(tmp_path: Path, pizza_cls: Path) -> None:
    run = tmp_path / "run"
    tiny_gan(run, **{"eval.every": 1, "eval.extractor": f"classifier:{pizza_cls}", "eval.n": 64, "eval.metrics": "fid"})
    got = rows(run / "eval.jsonl")
    assert len(got) == 3 and (run / "best.pt").is_file()
    best = json.loads((run / "best.json").read_text())
    assert best["value"] == pytest.approx(min(r["FD[classifier:pizza]"] for r in got))
    assert any("eval/FD[classifier:pizza]" in r for r in rows(run / "metrics.jsonl"))  # TensorBoard/metrics scalar


def test_class_accuracy_of_a_conditional_model(tmp_path: Path, pizza_cls: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "c"
    tiny_gan(run, recipe="cdcgan", **{"train.epochs": 1})
    assert main(["evaluate", str(run), "--extractor", f"classifier:{pizza_cls}", "--n", "50", "--metrics", "acc"]) == 0
    r = rows(run / "eval.jsonl")[-1]
    assert 0 <= r["class_acc"] <= 1 and "class_acc[pepperoni]" in r
    assert r["FD[classifier:pizza][pepperoni]"] > 0  # per-class distances against the real images of the class
    uncond = tmp_path / "u"
    tiny_gan(uncond, **{"train.epochs": 1})
    line = one_line_error(capsys, ["evaluate", str(uncond), "--extractor", f"classifier:{pizza_cls}", "--n", "20", "--metrics",
                                   "acc"])
    assert "needs a class-conditional model" in line


def test_two_folders_and_bad_input(tmp_path: Path, pizza_cls: Path, capsys: pytest.CaptureFixture) -> None:
    write_images(tmp_path / "a", 24, size=(20, 20), seed=1)
    write_images(tmp_path / "b", 24, size=(20, 20), seed=2)
    assert main(["evaluate", "--fake", str(tmp_path / "a"), "--real", str(tmp_path / "b"), "--extractor",
                 f"classifier:{pizza_cls}", "--size", "16", "--n", "24", "--metrics", "fid,kid,pr"]) == 0
    assert "FD[classifier:pizza]" in capsys.readouterr().out
    cases = [
        (["--fake", str(tmp_path / "a"), "--real", str(tmp_path / "b"), "--extractor", f"classifier:{pizza_cls}",
          "--size", "16", "--n", "5", "--metrics", "is"], "needs at least 10 images of each set"),
        (["--fake", str(tmp_path / "a"), "--real", str(tmp_path / "b"), "--metrics", "fid,bogus"], "unknown bogus"),
        (["--fake", str(tmp_path / "a"), "--real", str(tmp_path / "b"), "--extractor", "resnet"],
         "choices: inception, classifier:PATH"),
        (["--fake", str(tmp_path / "a"), "--real", str(tmp_path / "b"), "--extractor", f"classifier:{tmp_path / 'a'}"],
         "no classifier file"),
        (["--fake", str(tmp_path / "a"), "--real", str(tmp_path / "b"), "--extractor",
          f"classifier:{tmp_path / 'a' / 'img_000.png'}"], "is not a ganforge classifier file"),
    ]
    write_images(tmp_path / "g", 24, size=(20, 20), mode="L", seed=3)
    cases.append((["--fake", str(tmp_path / "g"), "--real", str(tmp_path / "b"), "--extractor", f"classifier:{pizza_cls}"],
                  "different channel counts"))
    assert main(["evaluate", "--fake", str(tmp_path / "g"), "--real", str(tmp_path / "b"), "--extractor",
                 f"classifier:{pizza_cls}", "--size", "16", "--n", "24", "--channels", "3"]) == 0
    for args, message in cases:
        assert message in one_line_error(capsys, ["evaluate", *args])


def test_inception_offline_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("GANFORGE_WEIGHTS_MIRROR", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    write_images(tmp_path / "a", 4)
    line = one_line_error(capsys, ["evaluate", "--fake", str(tmp_path / "a"), "--real", str(tmp_path / "a")])
    assert "GANFORGE_INCEPTION_WEIGHTS" in line
    run = tmp_path / "run"
    line = one_line_error(capsys, ["train", "--preset", "dcgan-pizza", "--out", str(run), "eval.every=1"])
    assert "GANFORGE_INCEPTION_WEIGHTS" in line and not run.exists()  # fails before any training


def test_inception_extractor_with_random_weights_reports_fid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture) -> None:
    from ganforge.metrics.inception import FIDInception

    weights = tmp_path / "random_inception.pth"
    torch.manual_seed(0)
    torch.save(FIDInception().state_dict(), weights)
    write_images(tmp_path / "a", 12, size=(16, 16), seed=1)
    write_images(tmp_path / "b", 12, size=(16, 16), seed=2)
    assert main(["evaluate", "--fake", str(tmp_path / "a"), "--real", str(tmp_path / "b"), "--weights", str(weights),
                 "--size", "16", "--n", "12", "--metrics", "fid,is"]) == 0
    out = capsys.readouterr().out
    assert "FID " in out and "IS " in out and "extractor=inception" in out


def test_translation_and_toy_runs_are_scored(tmp_path: Path, pizza_cls: Path) -> None:
    from .test_cyclegan import tiny_cli as cyclegan_cli
    from .test_paired_data import write_aligned
    from .test_pix2pix import tiny_cli as pix2pix_cli

    write_aligned(tmp_path / "pairs" / "train", 4, size=40)
    write_aligned(tmp_path / "pairs" / "val", 3, size=32, start=50)
    p2p = tmp_path / "p2p"
    assert main(["train", "--data", str(tmp_path / "pairs"), "--out", str(p2p), *pix2pix_cli()]) == 0
    assert main(["evaluate", str(p2p), "--extractor", f"classifier:{pizza_cls}", "--n", "3", "--metrics", "fid"]) == 0
    r = rows(p2p / "eval.jsonl")[-1]
    assert {"l1", "psnr", "ssim", "FD[classifier:pizza]"} <= set(r) and r["protocol"]["n_real"] == 3
    assert "[val]" in r["protocol"]["real"]
    cg = tmp_path / "cg"
    assert main(["train", "--out", str(cg), *cyclegan_cli(**{"data.source": "builtin:pizza", "data.builtin_n": 8})]) == 0
    assert main(["evaluate", str(cg), "--extractor", f"classifier:{pizza_cls}", "--n", "8", "--metrics", "fid,kid"]) == 0
    r = rows(cg / "eval.jsonl")[-1]
    assert {"AtoB:FD[classifier:pizza]", "BtoA:FD[classifier:pizza]", "AtoB:KIDx1000[classifier:pizza]"} <= set(r)
    toy = tmp_path / "toy"
    assert main(["train", "--preset", "toy-ring", "--out", str(toy), "train.epochs=1", "data.builtin_n=2048",
                 "train.progress=false", "train.tensorboard=false"]) == 0
    assert main(["evaluate", str(toy), "--n", "500"]) == 0  # no extractor needed
    r = rows(toy / "eval.jsonl")[-1]
    assert {"modes", "high_quality", "reverse_kl"} <= set(r) and r["protocol"]["n_fake"] == 500
