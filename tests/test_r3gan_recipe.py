"""The r3gan recipe: the reference's cosine schedules, the D loss as RpGAN + gamma/2 (R1 + R2), conditional only on
labelled data, exact resume mid-schedule, presets, and a run from the command line."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from ganforge.cli import main
from ganforge.config import parse_override
from ganforge.configure import resolve
from ganforge.data.loader import Batch
from ganforge.errors import GanforgeError
from ganforge.losses import r1_penalty
from ganforge.recipes import PRESETS, RECIPES
from ganforge.recipes.base import DataInfo
from ganforge.recipes.r3gan import cosine

from .conftest import write_images

TINY = {"model.widths": "16,8,8", "model.blocks": "1,1,1", "model.group_width": 8, "model.latent_dim": 8,
        "data.image_size": 16, "train.batch_size": 4}


def make(classes: tuple[str, ...] | None = None, steps: int = 8, **over: Any) -> Any:
    cfg = resolve([{"recipe": "r3gan"}, *(parse_override(f"{k}={v}") for k, v in {**TINY, **over}.items())])
    return RECIPES.get("r3gan")(cfg, DataInfo(3, 16, classes, 0, 0, steps), torch.device("cpu"))


def batch(n: int = 4, labelled: bool = False) -> Batch:
    g = torch.Generator().manual_seed(n)
    return Batch(torch.rand(n, 3, 16, 16, generator=g) * 2 - 1, torch.arange(n) % 2 if labelled else None)


def test_cosine_schedule_is_the_references() -> None:
    assert cosine(0, 2e-4, 5e-5, 100) == 2e-4 and cosine(100, 2e-4, 5e-5, 100) == 5e-5
    assert cosine(50, 2e-4, 5e-5, 100) == pytest.approx((2e-4 + 5e-5) / 2)  # half way: the mean
    assert cosine(25, 0.0, 1.0, 100) == pytest.approx(0.5 * (1 - math.cos(math.pi / 4)))
    assert cosine(500, 0.9, 0.99, 100) == 0.99  # past the schedule: the final value


def test_the_schedules_follow_the_images_seen() -> None:
    r = make(steps=8, **{"model.gamma": 1.0, "model.gamma_final": 0.1, "model.ema_images": 64})
    seen = [r.train_step(batch()) for _ in range(8)]
    assert seen[0]["lr"].item() == pytest.approx(2e-4) and seen[0]["gamma"].item() == pytest.approx(1.0)
    assert seen[4]["lr"].item() == pytest.approx((2e-4 + 5e-5) / 2)  # 16 of 32 images
    assert seen[4]["gamma"].item() == pytest.approx(0.55)
    opt = r.optimizers["d"].param_groups[0]
    assert opt["betas"][0] == 0.0 and opt["betas"][1] == pytest.approx(cosine(28, 0.9, 0.99, 32))
    fixed = make(steps=8, **{"model.schedule_images": 1000})  # an explicit budget instead of the run's
    fixed.train_step(batch())
    assert fixed.schedule()["lr"] == pytest.approx(cosine(4, 2e-4, 5e-5, 1000))


def test_the_d_loss_is_rpgan_plus_half_gamma_r1_r2() -> None:
    torch.manual_seed(0)
    r = make(**{"model.gamma": 3.0, "model.gamma_final": 3.0, "train.precision": "fp32"})
    d_before = copy.deepcopy(r.d)
    out = r.train_step(batch())
    assert out["loss_d"].item() == pytest.approx(out["loss_d_adv"].item() + 1.5 * (out["r1"] + out["r2"]).item(),
                                                 rel=1e-5)
    x = batch().image.requires_grad_(True)  # R1 is the D from before the step on the step's real images
    assert out["r1"].item() == pytest.approx(r1_penalty(d_before(x), x).item(), rel=1e-4)
    assert out["r2"].item() > 0 and out["loss_d_adv"].item() == pytest.approx(math.log(2), abs=0.2)  # D starts unsure


def test_lazy_regularisation_comes_every_k_steps_weighted_k() -> None:
    torch.manual_seed(0)
    r = make(**{"model.gamma": 3.0, "model.gamma_final": 3.0, "model.reg_every": 2, "train.precision": "fp32"})
    first, second, third = (r.train_step(batch()) for _ in range(3))
    assert first["loss_d"].item() == pytest.approx(first["loss_d_adv"].item() + 3.0 * (first["r1"] + first["r2"]).item(),
                                                   rel=1e-5)  # gamma/2 * k = 3
    assert "r1" not in second and second["loss_d"].item() == second["loss_d_adv"].item()
    assert third["r1"].item() > 0 and r.d_updates == 3


def test_conditional_on_labelled_data_unless_told_not_to() -> None:
    r = make(classes=("a", "b"))
    assert r.conditional and r.n_classes == 2 and r.g.n_classes == 2 and r.d.n_classes == 2
    assert all(torch.isfinite(v) for v in r.train_step(batch(labelled=True)).values())
    plain = make(classes=("a", "b"), **{"model.conditional": "false"})
    assert not plain.conditional and plain.g.n_classes == 0
    assert not make().conditional


@pytest.mark.parametrize("reg_every", [1, 3])  # 3: resumed after step 3, the next step is a regularised one
def test_resume_mid_schedule_is_exact(reg_every: int) -> None:
    torch.manual_seed(0)
    a = make(steps=6, **{"model.reg_every": reg_every})
    b = copy.deepcopy(a)
    for _ in range(6):
        a.train_step(batch())
    for _ in range(3):
        b.train_step(batch())
    state = copy.deepcopy(b.state_dict())
    c = make(steps=6, **{"model.reg_every": reg_every})
    c.load_state_dict(state)
    assert c.d_updates == 3 and c.schedule() == b.schedule()
    for _ in range(3):
        c.train_step(batch())
    for name in a.nets:
        for (k, p), q in zip(a.nets[name].state_dict().items(), c.nets[name].state_dict().values()):
            assert torch.equal(p, q), f"{name}.{k}"


def test_d_widths_give_d_its_own_widths() -> None:
    r = make(**{"model.d_widths": "8,8,4"})  # G keeps TINY's 16, 8, 8
    assert r.d.extract.out_channels == 4 and r.g.aggregate.in_channels == 8
    assert [m.in_features for m in r.d.modules() if isinstance(m, torch.nn.Linear)] == [8]  # the 4x4 stage: 8 wide
    assert all(torch.isfinite(v) for v in r.train_step(batch()).values())


@pytest.mark.parametrize("over,message", [
    ({"model.widths": "16,8"}, "has 2 stages; 16x16 needs 3"),
    ({"model.d_widths": "16,8"}, r"R3GAN d_widths \[16, 8\] has 2 stages; 16x16 needs 3"),
    ({"model.group_width": 5}, "group_width 5 does not divide"),
    ({"model.gamma": -1}, "model.gamma must be >= 0; got -1"),
    ({"model.reg_every": 0}, "model.reg_every must be >= 1 \\(1 = every D step\\); got 0"),
    ({"model.beta2_final": 1.0}, r"model.beta2_final must be in \[0, 1\); got 1.0"),
    ({"data.image_size": 24}, "not 4 \\* 2\\^k"),
])
def test_bad_settings(over: dict[str, Any], message: str) -> None:
    with pytest.raises(GanforgeError, match=message):
        make(**over)


def test_presets_resolve() -> None:
    for name in ("r3gan-mnist", "r3gan-stacked-mnist", "r3gan-cifar10", "r3gan-cifar10-paper"):
        cfg = resolve([PRESETS.get(name).layer])
        assert cfg.recipe == "r3gan" and cfg.optim.beta1 == 0.0
    paper = resolve([PRESETS.get("r3gan-cifar10-paper").layer])
    assert (list(paper.model.widths), list(paper.model.blocks), paper.model.group_width, paper.train.batch_size,
            paper.model.schedule_images, paper.model.ema_images) == ([768] * 4, [2] * 4, 16, 512, 20_000_000, 5_000_000)


def test_trains_and_samples_from_the_command_line(tmp_path: Path) -> None:
    write_images(tmp_path / "imgs", 16, size=(16, 16))
    run = tmp_path / "run"
    args = ["--data", str(tmp_path / "imgs"), "--out", str(run), "recipe=r3gan", "train.epochs=2",
            "train.progress=false", "train.tensorboard=false", "train.log_every=2", "train.n_samples=4",
            *(f"{k}={v}" for k, v in TINY.items())]
    assert main(["train", *args]) == 0
    assert (run / "samples" / "epoch_002.png").is_file()
    assert main(["sample", str(run), "--n", "3", "--out", str(tmp_path / "s.png")]) == 0
