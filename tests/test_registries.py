"""Generic checks over every registry: a newly registered network, loss, metric, recipe or preset gets them for free.

- networks: the reference parameter counts they declare, one optimiser step that changes every parameter of their
  example, N(0, std) initialisation where they declare one;
- losses: finite values and the direction of every gradient (D pushes real logits up and fake logits down, G pushes
  fake logits up) on logits in (0, 1), where every loss has a direction;
- metrics: what they need is known, and on synthetic inputs of that kind they return finite numbers;
- recipes and presets: every preset resolves, every bench configuration names a registered preset.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganforge.configure import resolve
from ganforge.errors import GanforgeError
from ganforge.losses import LOSSES
from ganforge.metrics import METRICS, Inputs, selectable
from ganforge.metrics.base import NEEDS
from ganforge.nets import NETS
from ganforge.nets.layers import count_parameters
from ganforge.presets import PRESETS
from ganforge.recipes import RECIPES


def test_every_registry_lists_and_refuses_unknown_names() -> None:
    for registry, kind in ((NETS, "network"), (LOSSES, "loss"), (METRICS, "metric"), (RECIPES, "recipe"),
                           (PRESETS, "preset")):
        assert len(registry) > 0 and registry.names() == sorted(registry.names())
        with pytest.raises(GanforgeError, match=f"unknown {kind} 'nosuch'; choices: "):
            registry.get("nosuch")


# --------------------------------------------------------------------------------------------------
# Networks


@pytest.mark.parametrize("name", NETS.names())
def test_every_network_declares_its_checks(name: str) -> None:
    meta = NETS.meta(name)
    assert callable(meta.get("example")), f"{name}: register it with example=lambda: (net, inputs)"
    assert "references" in meta, f"{name}: register it with references=((kwargs, count), ...) or ()"


REFERENCES = [(name, i) for name in NETS.names() for i in range(len(NETS.meta(name).get("references", ())))]


@pytest.mark.parametrize("name, i", REFERENCES, ids=[f"{n}-{i}" for n, i in REFERENCES])
def test_reference_parameter_counts(name: str, i: int) -> None:
    kwargs, count = NETS.meta(name)["references"][i]
    with torch.device("meta"):  # no memory, no init: only the shapes
        net = NETS.get(name)(**kwargs)
    assert count_parameters(net) == count


@pytest.mark.parametrize("name", NETS.names())
def test_one_step_changes_every_parameter(name: str) -> None:
    torch.manual_seed(0)
    net, inputs = NETS.meta(name)["example"]()
    net.train()
    out = net(*inputs)
    assert torch.isfinite(out).all()
    weights = torch.randn_like(out)  # a loss without symmetries that would zero some gradients
    before = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    (out * weights).sum().backward()
    opt.step()
    names = [n for n, _ in net.named_parameters()]
    unchanged = [n for n, b, p in zip(names, before, net.parameters()) if torch.equal(b, p)]
    assert not unchanged, f"{name}: these parameters did not change: {unchanged}"


@pytest.mark.parametrize("name", [n for n in NETS.names() if "init_std" in NETS.meta(n)])
def test_declared_initialisation(name: str) -> None:
    torch.manual_seed(0)
    net, _ = NETS.meta(name)["example"]()
    w = torch.cat([m.weight.detach().flatten() for m in net.modules()
                   if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear))])
    std = NETS.meta(name)["init_std"]
    assert len(w) > 500 and abs(w.std().item() / std - 1) < 0.15 and abs(w.mean().item()) < std / 5


# --------------------------------------------------------------------------------------------------
# Losses


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_loss_is_finite_and_pushes_the_right_way(name: str) -> None:
    loss = LOSSES.get(name)
    gen = torch.Generator().manual_seed(0)
    real = (0.05 + 0.85 * torch.rand(64, generator=gen)).requires_grad_()
    fake = (0.05 + 0.85 * torch.rand(64, generator=gen)).requires_grad_()
    d = loss.d(real, fake)
    gr, gf = torch.autograd.grad(d, (real, fake))
    assert torch.isfinite(d) and (gr < 0).all() and (gf > 0).all(), name  # D: real up, fake down
    fake_g = fake.detach().clone().requires_grad_()
    g = loss.g(fake_g)
    (gg,) = torch.autograd.grad(g, fake_g)
    assert torch.isfinite(g) and (gg < 0).all(), name  # G: fake up
    for dtype in (torch.bfloat16, torch.float16):  # half-precision logits are scored in fp32
        assert loss.d(real.detach().to(dtype), fake.detach().to(dtype)).dtype == torch.float32


# --------------------------------------------------------------------------------------------------
# Metrics


def synthetic(needs: frozenset[str]) -> Inputs:
    rng = np.random.default_rng(0)
    x = Inputs(seed=0)
    if "real" in needs or "classes" in needs:
        x.real = (rng.normal(size=(60, 8)), rng.normal(size=(60, 3)))
        x.real_labels = np.repeat(np.arange(3), 20)
    if "fake" in needs:
        x.fake = (rng.normal(size=(60, 8)) + 0.5, rng.normal(size=(60, 3)))
    if "classes" in needs:
        x.class_names = x.extractor_classes = ("a", "b", "c")
        x.fake_of_class = lambda k: (rng.normal(size=(20, 8)), np.eye(3)[np.full(20, k)] + rng.normal(0, 0.1, (20, 3)))
    if "pairs" in needs:
        t = torch.rand(4, 3, 16, 16) * 2 - 1
        x.outputs, x.targets = (t + 0.1 * torch.randn_like(t)).clamp(-1, 1), t
    if "points" in needs:
        from ganforge.data.toy import parse_toy

        x.toy = parse_toy("ring")
        x.points = x.toy.sample(500, 0)
    if "channels" in needs:
        x.channel_logits = rng.normal(size=(60, 3, 10))
    return x


@pytest.mark.parametrize("name", METRICS.names())
def test_every_metric_computes_finite_numbers_from_what_it_needs(name: str) -> None:
    m = METRICS.get(name)
    assert m.needs and m.needs <= set(NEEDS) and m.min_count >= 1
    assert (m.ranks is None) == (m.higher_is_better is None)
    out = m.compute(synthetic(m.needs))
    assert out and all(isinstance(v, float) and math.isfinite(v) for v in out.values()), out
    if m.ranks is not None:  # its ranking key is among what it returns
        assert any(m.ranks(k) for k in out), out


def test_the_help_and_config_read_the_metric_registry() -> None:
    from ganforge.cli import build_parser

    assert selectable()[:2] == ["fid", "kid"]
    text = build_parser()._subparsers._group_actions[0].choices["evaluate"].format_help()
    for name in selectable():
        assert f"{name} (" in " ".join(text.split())
    with pytest.raises(GanforgeError, match="eval.metrics 'fid,nosuch': unknown nosuch; choices: fid, kid"):
        resolve([{"eval": {"metrics": "fid,nosuch"}}])


# --------------------------------------------------------------------------------------------------
# Recipes and presets


@pytest.mark.parametrize("name", [n for n, _ in PRESETS.items()])
def test_every_preset_resolves_to_its_recipe(name: str) -> None:
    preset = PRESETS.get(name)
    layers = [preset.layer] + ([{"data": {"source": "builtin:pizza"}}] if preset.needs_data else [])
    cfg = resolve(layers)
    assert cfg.recipe == preset.layer["recipe"] and cfg.recipe in RECIPES


@pytest.mark.parametrize("name", RECIPES.names())
def test_every_recipe_has_a_config_and_its_bench_configurations_name_presets(name: str) -> None:
    cls = RECIPES.get(name)
    assert cls.name == name and callable(cls.validate)
    assert resolve([{"recipe": name}]).model.__class__ is cls.config_cls
    for config, (preset, layer) in cls.bench_configs.items():
        assert config in ("paper", "small") and preset in PRESETS and isinstance(layer, dict)
