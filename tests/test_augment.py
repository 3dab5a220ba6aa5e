"""DiffAugment and ADA (``ganforge.augment``): the ops' closed forms and ranges, differentiability, the same draws
giving the same transform (D's real and fake paths), ADA's controller, and the recipes using them."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from ganforge.augment import AugmentOptions, Augmenter, apply, brightness, contrast, cutout, saturation, translation
from ganforge.config import parse_override
from ganforge.configure import resolve
from ganforge.data.loader import Batch
from ganforge.errors import GanforgeError
from ganforge.recipes import RECIPES
from ganforge.recipes.base import DataInfo


def seeded_rand(seed: int) -> Any:
    g = torch.Generator().manual_seed(seed)
    return lambda n, *shape: torch.rand(n, *shape, generator=g)


def test_colour_ops_at_the_middle_of_their_range_are_the_identity_and_stretch_at_the_ends() -> None:
    x = torch.rand(3, 3, 8, 8) * 2 - 1
    half = torch.full((3,), 0.5)
    for op in (brightness, saturation, contrast):
        assert torch.allclose(op(x, half), x, atol=1e-6)
    assert torch.allclose(brightness(x, torch.ones(3)), x + 0.5)
    grey = saturation(x, torch.zeros(3))  # saturation 0: every channel the pixel's mean
    assert torch.allclose(grey, x.mean(1, keepdim=True).expand_as(x), atol=1e-6)
    flat = contrast(x, torch.zeros(3))  # contrast 0.5 around the image mean
    assert torch.allclose(flat - x.mean((1, 2, 3), keepdim=True), 0.5 * (x - x.mean((1, 2, 3), keepdim=True)),
                          atol=1e-6)


def test_translation_shifts_whole_pixels_with_zeros_moving_in() -> None:
    x = torch.arange(64.0).view(1, 1, 8, 8) + 1
    # u = 1 - eps: the largest shift, +1 pixel each way at 8 px (ratio 1/8): output (i, j) reads input (i+1, j+1)
    out = translation(x, torch.full((1, 2), 0.999))
    assert torch.equal(out[0, 0, :7, :7], x[0, 0, 1:, 1:]) and out[0, 0, 7].eq(0).all() and out[0, 0, :, 7].eq(0).all()
    assert torch.equal(translation(x, torch.full((1, 2), 0.5)), x)  # the middle draw: no shift
    shifts = set()
    for u in torch.linspace(0, 0.999, 50):
        y = translation(x, torch.tensor([[u, 0.5]]))
        shifts.add(int((y[0, 0, 4, 4] - x[0, 0, 4, 4]).item()) // 8)
    assert shifts == {-1, 0, 1}  # every shift in [-1, 1] rows is drawn


def test_cutout_zeroes_a_square_of_half_the_side() -> None:
    x = torch.ones(2, 3, 8, 8)
    out = cutout(x, torch.tensor([[0.5, 0.5], [0.0, 0.0]]))
    assert (out[0] == 0).sum().item() == 3 * 4 * 4  # centred: a whole 4x4 square
    assert 0 < (out[1] == 0).sum().item() < 3 * 16  # at the corner: clipped by the border
    assert torch.equal(out[:, 0], out[:, 1])  # the same square in every channel


def test_ops_are_differentiable_and_the_same_draws_give_the_same_transform() -> None:
    ops = ("color", "translation", "cutout")
    real = (torch.rand(4, 3, 16, 16) * 2 - 1).requires_grad_(True)
    fake = (torch.rand(4, 3, 16, 16) * 2 - 1).requires_grad_(True)
    a = apply(real, ops, seeded_rand(7))
    a.square().sum().backward()
    assert real.grad is not None and torch.isfinite(real.grad).all() and real.grad.abs().sum() > 0
    # the same draws on another input: the same transform (an image made of the real one's pixels maps alike)
    same = apply(real.detach(), ops, seeded_rand(7))
    assert torch.equal(same, a.detach())
    assert not torch.equal(apply(real.detach(), ops, seeded_rand(8)), same)
    mixed = torch.cat([real.detach()[:2], fake.detach()[2:]])
    out = apply(mixed, ops, seeded_rand(7))
    assert torch.equal(out[:2], same[:2])  # per image: a batch mate does not change an image's transform


def test_ada_applies_each_op_with_probability_p() -> None:
    x = torch.rand(4000, 1, 8, 8) * 2 - 1
    assert torch.equal(apply(x, ("translation",), seeded_rand(0), p=0.0), x)
    changed = (apply(x, ("cutout",), seeded_rand(0), p=0.3) != x).flatten(1).any(1).float().mean().item()
    assert abs(changed - 0.3) < 0.03


def test_ada_p_rises_on_an_overfitting_d_and_falls_on_an_underfitting_one() -> None:
    ada = Augmenter(AugmentOptions(augment="ada", ada_images=1000, ada_interval=2), seeded_rand(0), batch=50)
    assert ada.p == 0.0
    for _ in range(4):  # D says "real" to every real image: r_t = 1 > 0.6
        ada.observe(torch.ones(50))
    assert ada.p == pytest.approx(2 * 50 * 2 / 1000)  # two adjustments of batch x interval / ada_images
    for _ in range(40):
        ada.observe(torch.ones(50))
    assert ada.p == 1.0  # clamped
    for _ in range(6):  # D unsure of the reals: r_t = -1 < 0.6
        ada.observe(-torch.ones(50))
    assert ada.p == pytest.approx(1.0 - 3 * 0.1)  # three adjustments of 50 x 2 / 1000 down
    state = ada.state_dict()
    other = Augmenter(AugmentOptions(augment="ada", ada_images=1000, ada_interval=2), seeded_rand(0), batch=50)
    other.load_state_dict(state)
    assert other.p == ada.p


def make(recipe: str, **over: Any) -> Any:
    tiny = {"model.g_width": 4, "model.d_width": 4} if recipe == "dcgan" else \
        {"model.widths": "8,8,8", "model.blocks": "1,1,1", "model.group_width": 8}
    kv = {"model.latent_dim": 8, "data.image_size": 16, "train.batch_size": 8, **tiny, **over}
    cfg = resolve([{"recipe": recipe}, *(parse_override(f"{k}={v}") for k, v in kv.items())])
    return RECIPES.get(recipe)(cfg, DataInfo(3, 16, None, 0, 0, 10), torch.device("cpu"))


@pytest.mark.parametrize("recipe", ["dcgan", "r3gan"])
@pytest.mark.parametrize("mode", ["diffaug", "ada"])
def test_recipes_train_with_augmentation_and_keep_p(recipe: str, mode: str) -> None:
    torch.manual_seed(0)
    r = make(recipe, **{"model.augment": mode, "model.ada_images": 100, "model.ada_interval": 1})
    x = Batch(torch.rand(8, 3, 16, 16) * 2 - 1, None)
    outs = [r.train_step(x) for _ in range(3)]
    assert all(torch.isfinite(v).all() for o in outs for v in o.values())
    p = outs[-1]["augment_p"].item()
    assert p == 1.0 if mode == "diffaug" else 0.0 <= p <= 1.0
    if mode == "ada" and recipe == "dcgan":
        assert r.state_dict()["augment"]["p"] == p


@pytest.mark.parametrize("over,message", [
    ({"model.augment": "mixup"}, "model.augment must be one of none, diffaug, ada; got 'mixup'"),
    ({"model.augment": "diffaug", "model.augment_ops": "color,flip"}, "unknown flip; choices: color, translation, cutout"),
    ({"model.augment": "ada", "model.ada_target": 1.5}, r"model.ada_target must be in \(0, 1\); got 1.5"),
])
def test_bad_settings(over: dict[str, Any], message: str) -> None:
    with pytest.raises(GanforgeError, match=message):
        make("dcgan", **over)


def test_points_cannot_be_augmented() -> None:
    cfg = resolve([{"recipe": "mlp"}, parse_override("model.augment=diffaug")])
    with pytest.raises(GanforgeError, match="transforms images; the data is 2-D points"):
        RECIPES.get("mlp")(cfg, DataInfo(3, 32, None, 2), torch.device("cpu"))


def test_a_pair_changes_colour_alike() -> None:
    a, b = torch.rand(4, 1, 8, 8) * 2 - 1, torch.rand(4, 3, 8, 8) * 2 - 1
    aug = Augmenter(AugmentOptions(augment="diffaug", augment_ops="color"), seeded_rand(3), batch=4)
    both = aug.pair(a, b)
    assert both.shape == (4, 4, 8, 8)
    # the same draws as one image alone: the first of the three colour draws moves both by the same brightness
    alone = apply(a, ("color",), seeded_rand(3))
    assert torch.allclose(both[:, :1], alone, atol=1e-6)
    off = Augmenter(AugmentOptions(), seeded_rand(3), batch=4)
    assert torch.equal(off.pair(a, b), torch.cat([a, b], 1))


@pytest.mark.parametrize("recipe", ["pix2pix", "cyclegan"])
def test_translation_recipes_take_the_colour_op_only(recipe: str) -> None:
    tiny = {"model.g_width": 4, "model.d_width": 4, "data.image_size": 32, "train.batch_size": 2}
    if recipe == "pix2pix":
        tiny["model.generator"] = "unet_32"
    else:
        tiny["model.generator"] = "resnet_6blocks"

    def build(**over: Any) -> Any:
        cfg = resolve([{"recipe": recipe}, *(parse_override(f"{k}={v}") for k, v in {**tiny, **over}.items())])
        return RECIPES.get(recipe)(cfg, DataInfo(3, 32, None, 0, 3, 10), torch.device("cpu"))

    r = build(**{"model.augment": "ada", "model.ada_interval": 1, "model.ada_images": 10})
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    out = [r.train_step(Batch(x, None, x.flip(-1))) for _ in range(2)]
    assert all(torch.isfinite(v).all() for o in out for v in o.values()) and "augment_p" in out[-1]
    assert r.state_dict()["augment"]["p"] == pytest.approx(out[-1]["augment_p"].item())
    with pytest.raises(GanforgeError, match="unknown translation; choices: color"):
        build(**{"model.augment": "diffaug", "model.augment_ops": "color,translation"})
