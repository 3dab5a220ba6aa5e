"""pix2pix: the training step, L1 overfit, test-time dropout/norm, the lr schedule, validation scores, the
translate command, presets and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import presets
from ganforge.cli import main
from ganforge.configure import resolve
from ganforge.data.loader import Batch
from ganforge.metrics.paired import paired_scores
from ganforge.recipes.base import DataInfo
from ganforge.recipes.pix2pix import Pix2Pix, at_test_time

from .test_cli import one_line_error
from .test_paired_data import write_aligned

CPU = torch.device("cpu")
TINY = {"generator": "unet_32", "g_width": 4, "d_width": 4}


def make(model: dict | None = None, size: int = 32, **sections: dict) -> Pix2Pix:
    cfg = resolve([{"recipe": "pix2pix", "model": {**TINY, **(model or {})},
                    "data": {"image_size": size, **sections.pop("data", {})}, **sections}])
    torch.manual_seed(0)
    return Pix2Pix(cfg, DataInfo(3, size, input_channels=1), CPU)


def tiny_cli(**extra: object) -> list[str]:
    base = {"recipe": "pix2pix", "model.generator": "unet_32", "model.g_width": 4, "model.d_width": 4,
            "data.image_size": 32, "data.load_size": 36, "train.log_every": 2, "train.progress": "false",
            "train.tensorboard": "false", "train.epochs": 1, "optim.decay_epochs": 0}
    base.update(extra)
    return [f"{k}={v}" for k, v in base.items()]


def test_one_step_changes_every_parameter_of_g_and_d() -> None:
    r = make()
    before = {f"{n}.{k}": p.detach().clone() for n, net in r.nets.items() for k, p in net.named_parameters()}
    batch = Batch(torch.rand(2, 1, 32, 32) * 2 - 1, target=torch.rand(2, 3, 32, 32) * 2 - 1)
    out = r.train_step(batch)
    assert {"loss_d", "loss_g_gan", "loss_g_l1", "loss_g", "d_real", "d_fake", "l1"} <= set(out)
    after = {f"{n}.{k}": p for n, net in r.nets.items() for k, p in net.named_parameters()}
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert not unchanged
    assert math.isclose(float(out["loss_g"]), float(out["loss_g_gan"]) + float(out["loss_g_l1"]), rel_tol=1e-5)
    # D's input is the concatenation of input (1 channel) and output (3 channels)
    assert r.d is not None and next(r.d.parameters()).shape[1] == 4


def test_l1_only_has_no_discriminator_and_no_l1_has_no_l1_term() -> None:
    r = make({"lambda_gan": 0.0})
    assert r.d is None and set(r.nets) == {"g"}
    out = r.train_step(Batch(torch.zeros(1, 1, 32, 32), target=torch.ones(1, 3, 32, 32)))
    assert "loss_d" not in out and math.isclose(float(out["loss_g"]), float(out["loss_g_l1"]), rel_tol=1e-6)
    r = make({"lambda_l1": 0.0})
    out = r.train_step(Batch(torch.zeros(1, 1, 32, 32), target=torch.ones(1, 3, 32, 32)))
    assert float(out["loss_g_l1"]) == 0.0 and math.isclose(float(out["loss_g"]), float(out["loss_g_gan"]), rel_tol=1e-6)


def test_l1_only_memorises_four_pairs() -> None:
    """The overfit test: with the L1 term alone the generator learns 4 fixed pairs; L1 falls several fold."""
    r = make({"lambda_gan": 0.0, "g_width": 8, "dropout": 0.0}, optim={"lr": 1e-3})
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(4, 1, 32, 32, generator=gen) * 2 - 1
    # smooth targets unrelated to the noise inputs: only memorising the 4 pairs lowers the loss
    y = torch.nn.functional.interpolate(torch.rand(4, 3, 8, 8, generator=gen) * 2 - 1, size=32, mode="bilinear")
    first = float(r.train_step(Batch(x, target=y))["l1"])
    for _ in range(150):
        last = float(r.train_step(Batch(x, target=y))["l1"])
    assert first > 0.25 and last < first / 4, (first, last)  # measured: 0.345 -> 0.041


def test_test_time_dropout_and_per_image_norm() -> None:
    r = make({"generator": "unet_64"}, size=64)  # depth 6: one decoder block with dropout
    x = torch.rand(3, 1, 64, 64) * 2 - 1
    running = {k: v.clone() for k, v in r.g.state_dict().items() if "running" in k or "num_batches" in k}
    torch.manual_seed(1)
    a = r.translate(x)
    torch.manual_seed(1)
    b = r.translate(x)
    c = r.translate(x)
    assert torch.equal(a, b) and not torch.allclose(a, c)  # dropout on (the paper): seeded, random
    # per-image statistics: an image's output does not depend on its batch mates
    r.cfg = r.cfg.__class__(**{**r.cfg.__dict__, "model": r.cfg.model.__class__(**{**r.cfg.model.__dict__,
                                                                                   "test_dropout": False})})
    full, one = r.translate(x), r.translate(x[1:2])
    torch.testing.assert_close(full[1:2], one)
    torch.testing.assert_close(r.translate(x), full)  # dropout off: deterministic
    assert r.g.training  # back in train mode, running statistics untouched
    for k, v in r.g.state_dict().items():
        if k in running:
            assert torch.equal(v, running[k]), k
    with at_test_time(r.g, dropout=False, norm="running"):
        assert not any(m.training for m in r.g.modules())


@pytest.mark.filterwarnings(r"ignore:Detected call of `lr_scheduler.step\(\)`")
def test_linear_decay_schedule_matches_the_reference_rule() -> None:
    r = make(optim={"lr": 1e-3, "decay_epochs": 3}, train={"epochs": 5})
    lrs = []
    for epoch in range(1, 6):
        lrs.append(r.optimizers["g"].param_groups[0]["lr"])
        r.end_epoch(epoch)
    # constant for epochs - decay = 2 epochs, then 1 - k / (decay + 1)
    assert np.allclose(lrs, [1e-3, 1e-3, 0.75e-3, 0.5e-3, 0.25e-3])
    assert np.isclose(r.optimizers["d"].param_groups[0]["lr"], 0.0)


def test_paired_scores_closed_forms() -> None:
    x = torch.rand(2, 3, 24, 24) * 1.6 - 0.8
    s = paired_scores(x, x)
    assert torch.equal(s["l1"], torch.zeros(2)) and torch.allclose(s["ssim"], torch.ones(2))
    assert torch.equal(s["psnr"], torch.full((2,), 100.0))
    d = 0.1  # a shift of 0.1 on [0, 1] = 0.2 on [-1, 1]: PSNR = 10 log10(1 / 0.01) = 20 dB
    s = paired_scores(x + 2 * d, x)
    assert torch.allclose(s["psnr"], torch.full((2,), 20.0), atol=1e-3) and torch.allclose(s["l1"], torch.full((2,), d))
    assert (s["ssim"] < 1).all()


def test_cli_run_logs_validation_scores_and_triptychs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_aligned(tmp_path / "data" / "train", 6, size=40)
    write_aligned(tmp_path / "data" / "val", 2, size=32, start=50)  # validation: no resize, exact negatives
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "data"), "--out", str(run), *tiny_cli(**{"train.n_samples": 2})]) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in rows if "val_psnr" in r]
    assert len(val) == 1 and {"val_l1", "val_ssim", "val_psnr_input"} <= set(val[0])
    assert val[0]["val_psnr_input"] == pytest.approx(-10 * math.log10(((np.arange(256) * 2 - 255) ** 2).mean() / 255**2),
                                                     abs=0.3)  # the input is the negative of the target
    assert any("loss_g_l1" in r and "d_real" in r for r in rows)
    grid = Image.open(run / "samples" / "epoch_001.png")
    assert grid.size == (2 * (3 * 34 + 2), 2 * (2 * 34 + 2))  # 2 rows of input | output | target, 32 px + 2 px, x2
    facts = json.loads((run / "run.json").read_text())
    assert "[val]" in facts["val_data"] and "6 pairs" in facts["data"]
    ck = torch.load(run / "last.pt", weights_only=True)
    assert ck["config"]["model"]["test_dropout"] is True and ck["data_info"]["input_channels"] == 3
    assert ck["fixed_inputs"] is None  # the preview pairs come from the data, not the checkpoint


def test_translate_keeps_size_and_names(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_aligned(tmp_path / "data", 4, size=40)
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "data"), "--out", str(run), *tiny_cli(**{"data.val_split": "none"})]) == 0
    new = tmp_path / "new"
    (new / "sub").mkdir(parents=True)
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)).save(new / "odd size.png")
    Image.fromarray(rng.integers(0, 256, (64, 80), dtype=np.uint8), "L").save(new / "sub" / "gray.jpg")
    for fit in ("resize", "pad"):
        out = tmp_path / f"out_{fit}"
        assert main(["translate", str(run), "--input", str(new), "--out", str(out), "--fit", fit]) == 0
        a, b = Image.open(out / "odd size.png"), Image.open(out / "sub" / "gray.jpg")
        assert a.size == (53, 37) and b.size == (80, 64) and a.mode == b.mode == "RGB"
    # dropout off: the same output twice; --aligned translates one half of an A|B file
    for i in range(2):
        assert main(["translate", str(run / "last.pt"), "--input", str(tmp_path / "data" / "000.png"), "--out",
                     str(tmp_path / f"al{i}"), "--aligned", "--dropout", "off"]) == 0
    x, y = (np.asarray(Image.open(tmp_path / f"al{i}" / "000.png")) for i in range(2))
    assert x.shape == (40, 40, 3) and np.array_equal(x, y)
    assert "translated 1 image(s) AtoB" in capsys.readouterr().err
    line = one_line_error(capsys, ["translate", str(run), "--input", str(new), "--out", str(tmp_path / "o"),
                                   "--direction", "BtoA"])
    assert "trained to translate AtoB only" in line
    line = one_line_error(capsys, ["sample", str(run), "--out", str(tmp_path / "s.png")])
    assert "translates images rather than sampling them; use `ganforge translate" in line


def test_translate_refuses_other_recipes_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from .conftest import tiny_overrides, write_images

    write_images(tmp_path / "imgs", 16)
    run = tmp_path / "gan"
    assert main(["train", "--data", str(tmp_path / "imgs"), "--out", str(run), *tiny_overrides(**{"train.epochs": 1})]) == 0
    line = one_line_error(capsys, ["translate", str(run), "--input", str(tmp_path / "imgs"), "--out", str(tmp_path / "o")])
    assert "holds a dcgan model, which does not translate images" in line
    line = one_line_error(capsys, ["translate", str(run), "--input", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert "does not exist" in line


def test_bad_settings_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_aligned(tmp_path / "d", 2, size=40)
    (tmp_path / "odd").mkdir()
    Image.new("RGB", (65, 32)).save(tmp_path / "odd" / "x.png")
    cases = [
        (["--data", str(tmp_path / "d"), *tiny_cli(**{"model.generator": "unet_64"})],
         ("model.generator=unet_64 downsamples 6 times and needs data.image_size a multiple of 64; got 32; use "
          "model.generator=unet_32")),
        (["--data", str(tmp_path / "odd"), *tiny_cli()], "has an odd width"),
        (["--data", str(tmp_path / "d"), *tiny_cli(**{"model.loss": "wasserstein"})], "not available for pix2pix"),
        (["--data", str(tmp_path / "d"), *tiny_cli(**{"model.lambda_gan": 0, "model.lambda_l1": 0})], "not both 0"),
        (["--data", str(tmp_path / "d"), *tiny_cli(**{"data.pairs": "stereo"})], "data.pairs must be one of"),
        (["--data", str(tmp_path / "d"), *tiny_cli(**{"optim.decay_epochs": 3})], "optim.decay_epochs (3) must be <="),
    ]
    for i, (args, message) in enumerate(cases):
        line = one_line_error(capsys, ["train", "--out", str(tmp_path / f"r{i}"), *args])
        assert message in line, line


def test_presets_resolve_to_the_paper_setup() -> None:
    names = ["pix2pix-facades", "pix2pix-facades-no-l1", "pix2pix-l1-only", "pix2pix-cityscapes", "pix2pix-colorize"]
    cfgs = {n: resolve([{"name": n, **presets.get(n).layer}]) for n in names}
    f = cfgs["pix2pix-facades"]
    assert (f.model.generator, f.model.d_layers, f.model.norm, f.model.lambda_l1, f.model.loss) == \
        ("unet_256", 3, "batch", 100.0, "nonsaturating")
    assert (f.data.direction, f.data.load_size, f.data.image_size, f.data.crop, f.data.flip, f.data.resize) == \
        ("BtoA", 286, 256, "random", True, "stretch")
    assert (f.optim.lr, f.optim.beta1, f.optim.beta2, f.optim.resolved_decay_epochs(f.train.epochs)) == \
        (2e-4, 0.5, 0.999, 100)
    short = resolve([presets.get("pix2pix-facades").layer, {"train": {"epochs": 2}}])  # stays valid when shortened
    assert short.optim.resolved_decay_epochs(2) == 1
    assert (f.train.batch_size, f.train.epochs) == (1, 200)
    assert cfgs["pix2pix-facades-no-l1"].model.lambda_l1 == 0.0
    assert cfgs["pix2pix-l1-only"].model.lambda_gan == 0.0
    assert cfgs["pix2pix-cityscapes"].train.batch_size == 32
    c = cfgs["pix2pix-colorize"]
    assert (c.data.pairs, c.data.input_channels, c.data.direction) == ("colorize", 1, "AtoB")
    assert presets.get("pix2pix-colorize").needs_data


def test_exact_resume_with_jitter_dropout_and_validation(tmp_path: Path) -> None:
    write_aligned(tmp_path / "data" / "train", 6, size=72)
    write_aligned(tmp_path / "data" / "val", 2, size=64, start=50)
    over = tiny_cli(**{"model.generator": "unet_64", "data.image_size": 64, "data.load_size": 72,
                       "train.deterministic": "true", "train.n_samples": 2})

    def rows(run: Path) -> list[dict]:
        return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]

    assert main(["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "one"), *over, "train.epochs=2"]) == 0
    assert main(["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "two"), *over]) == 0
    assert main(["resume", str(tmp_path / "two"), "train.epochs=2"]) == 0
    one, two = rows(tmp_path / "one"), rows(tmp_path / "two")
    strip = [{k: v for k, v in r.items() if k != "images_per_s"} for r in one]
    assert strip == [{k: v for k, v in r.items() if k != "images_per_s"} for r in two]
    assert sum("val_psnr" in r for r in one) == 2
    assert (tmp_path / "one" / "samples" / "epoch_002.png").read_bytes() == \
        (tmp_path / "two" / "samples" / "epoch_002.png").read_bytes()
