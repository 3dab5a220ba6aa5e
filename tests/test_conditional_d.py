"""Conditional discriminators beyond the seeds' concatenation: the projection discriminator (Miyato & Koyama 2018)
and the AC-GAN auxiliary classifier (Odena et al. 2017), on the dense and the DCGAN discriminators."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

from ganforge.config import parse_override
from ganforge.configure import resolve
from ganforge.data.loader import Batch
from ganforge.errors import GanforgeError
from ganforge.nets.dcgan import DCGANDiscriminator
from ganforge.nets.layers import ClassHeads, check_condition
from ganforge.nets.mlp import MLPDiscriminator
from ganforge.recipes import RECIPES
from ganforge.recipes.base import DataInfo

CLASSES = tuple("abcd")


def make(recipe: str, **over: Any) -> Any:
    tiny = {"model.g_hidden": "16,32", "model.d_hidden": "32,16"} if recipe in ("cgan", "mlp") else \
        {"model.g_width": 4, "model.d_width": 4}
    kv = {"model.latent_dim": 8, "data.image_size": 16, "train.batch_size": 8, **tiny, **over}
    cfg = resolve([{"recipe": recipe}, *(parse_override(f"{k}={v}") for k, v in kv.items())])
    return RECIPES.get(recipe)(cfg, DataInfo(3, 16, CLASSES, 0), torch.device("cpu"))


def test_projection_adds_the_inner_product_of_the_class_embedding_with_the_features() -> None:
    torch.manual_seed(0)
    heads = ClassHeads(5, 3, projection=True, aux_classes=0)
    h, logits, y = torch.randn(4, 5), torch.randn(4), torch.tensor([0, 2, 1, 2])
    out, classes = heads(h, logits, y)
    assert torch.equal(out, logits) and classes is None  # the embedding starts at zero: silent at first
    with torch.no_grad():
        heads.embed.weight.copy_(torch.randn(3, 5))
    out, _ = heads(h, logits, y)
    expected = logits + torch.stack([heads.embed.weight[k] @ h[i] for i, k in enumerate(y.tolist())])
    assert torch.allclose(out, expected, atol=1e-6)
    with pytest.raises(ValueError, match="needs the labels"):
        heads(h, logits, None)


@pytest.mark.parametrize("make_d", [
    lambda **kw: MLPDiscriminator((3, 16, 16), (32, 16), n_classes=4, **kw),
    lambda **kw: DCGANDiscriminator(4, 3, 16, n_classes=4, **kw),
])
def test_discriminators_give_one_logit_and_class_logits(make_d: Any) -> None:
    x, y = torch.randn(6, 3, 16, 16), torch.arange(6) % 4
    d = make_d(condition="projection", aux_classes=4)
    logits, classes = d.forward_with_classes(x, y)
    assert logits.shape == (6,) and classes.shape == (6, 4)
    assert torch.equal(d(x, y), logits)
    # the label enters D through the projection only: a different label changes the logit once the embedding learnt
    with torch.no_grad():
        d.heads.embed.weight.normal_()
    assert not torch.allclose(d(x, y), d(x, (y + 1) % 4))
    plain, none = make_d().forward_with_classes(x, y)  # the seeds' concatenation, no class head
    assert plain.shape == (6,) and none is None


def test_check_condition_names_what_is_allowed() -> None:
    with pytest.raises(ValueError, match="condition 'film'; choices: concat, projection"):
        check_condition("film", 4, 1, 0)
    with pytest.raises(ValueError, match="needs n_classes > 0"):
        check_condition("projection", 0, 1, 0)
    with pytest.raises(ValueError, match="needs packing 1"):
        check_condition("concat", 4, 2, 4)


@pytest.mark.parametrize("recipe", ["cgan", "cdcgan"])
@pytest.mark.parametrize("option", [{"model.d_condition": "projection"}, {"model.ac_weight": 1},
                                    {"model.d_condition": "projection", "model.ac_weight": 0.5}])
def test_options_train_and_log_the_auxiliary_losses(recipe: str, option: dict[str, Any]) -> None:
    torch.manual_seed(0)
    r = make(recipe, **option)
    before = {f"{n}.{k}": p.detach().clone() for n, net in r.nets.items() for k, p in net.named_parameters()}
    out = r.train_step(Batch(torch.rand(8, 3, 16, 16) * 2 - 1, torch.arange(8) % 4))
    assert all(torch.isfinite(v) for v in out.values())
    assert ("ac_real" in out and "ac_fake" in out and "ac_g" in out) == bool(option.get("model.ac_weight"))
    changed = [k for k, p in r.nets["d"].named_parameters() if not torch.equal(before[f"d.{k}"], p)]
    assert len(changed) == len(list(r.nets["d"].parameters()))


def test_the_auxiliary_classifier_learns_the_classes() -> None:
    """AC-GAN: D's class head is trained on real images with their labels; on four separable classes its
    cross-entropy on real images drops from log 4 towards 0 within a hundred steps."""
    torch.manual_seed(0)
    r = make("cgan", **{"model.ac_weight": 1, "optim.lr": 1e-3})
    y = torch.arange(8) % 4
    x = (torch.rand(8, 3, 16, 16) * 0.2 - 1) + 0.5 * y.view(8, 1, 1, 1).float()  # the class sets the brightness
    first = r.train_step(Batch(x, y))["ac_real"].item()
    for _ in range(100):
        last = r.train_step(Batch(x, y))["ac_real"].item()
    assert first > 0.8 * torch.log(torch.tensor(4.0)).item() and last < 0.3 * first
    _, classes = r.d.forward_with_classes(x, y)
    assert F.cross_entropy(classes, y).item() < 0.3 * first


@pytest.mark.parametrize("recipe,over,message", [
    ("dcgan", {"model.d_condition": "projection"}, "are for conditional recipes"),
    ("mlp", {"model.ac_weight": 1}, "are for conditional recipes"),
    ("cgan", {"model.ac_weight": -1}, "model.ac_weight must be >= 0; got -1"),
    ("cgan", {"model.d_condition": "projection", "model.packing": 2}, "they need model.packing=1; got 2"),
    ("cgan", {"model.d_condition": "film"}, "model.d_condition must be one of concat, projection"),
])
def test_bad_settings(recipe: str, over: dict[str, Any], message: str) -> None:
    with pytest.raises(GanforgeError, match=message):
        make(recipe, **over)
