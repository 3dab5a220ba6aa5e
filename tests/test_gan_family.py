"""The GAN family's recipes and toolbox: shapes, one step changes every parameter, checkpoint round trips,
n_critic, EMA by hand, packing and minibatch-std shapes, option validation."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import pytest
import torch

from ganforge.config import parse_override
from ganforge.configure import resolve
from ganforge.data.loader import Batch
from ganforge.errors import GanforgeError
from ganforge.nets.layers import MinibatchStd, count_parameters, pack, with_labels
from ganforge.nets.mlp import MLPDiscriminator, MLPGenerator
from ganforge.nets.wgangp import WGANGPCritic, WGANGPGenerator
from ganforge.recipes.base import DataInfo
from ganforge.recipes import RECIPES
from ganforge.rng import seeded

CLASSES = tuple("abcd")
TINY: dict[str, dict[str, Any]] = {
    "dcgan": {"model.g_width": 4, "model.d_width": 4},
    "cdcgan": {"model.g_width": 4, "model.d_width": 4},
    "wgangp": {"model.g_width": 4, "model.d_width": 4, "model.n_critic": 1},
    "mlp": {"model.g_hidden": "16,32", "model.d_hidden": "32,16"},
    "cgan": {"model.g_hidden": "16,32", "model.d_hidden": "32,16"},
}


def make(recipe: str, points: int = 0, **over: Any) -> Any:
    layers = [{"recipe": recipe}]
    kv = {"model.latent_dim": 8, "data.image_size": 16, "train.batch_size": 8, **TINY[recipe], **over}
    layers += [parse_override(f"{k}={v}") for k, v in kv.items()]
    cfg = resolve(layers)
    cls = RECIPES.get(recipe)
    names = CLASSES if cls.conditional else None
    return cls(cfg, DataInfo(3, 16, names, points), torch.device("cpu"))


def batch(r: Any, n: int = 8) -> Batch:
    x = torch.randn(n, r.data.points) if r.data.points else torch.rand(n, 3, 16, 16) * 2 - 1
    return Batch(x, torch.arange(n) % len(CLASSES) if r.conditional else None)


def params(r: Any) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": p.detach().clone() for n, net in r.nets.items() for k, p in net.named_parameters()}


CASES = [("dcgan", 0), ("cdcgan", 0), ("wgangp", 0), ("mlp", 0), ("cgan", 0), ("mlp", 2)]


@pytest.mark.parametrize("recipe,points", CASES)
def test_one_step_changes_every_parameter_and_shapes(recipe: str, points: int) -> None:
    torch.manual_seed(0)
    r = make(recipe, points, **{"model.ema": 0.9})
    before = params(r)
    out = r.train_step(batch(r))
    after = params(r)
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    # The critic's output bias cancels in E[D(fake)] - E[D(real)] and the gradient penalty: its gradient is 0.
    assert unchanged == (["d.fc.bias"] if recipe == "wgangp" else []), unchanged
    assert {"loss_d", "loss_g", "d_real", "d_fake"} <= set(out) and all(torch.isfinite(v) for v in out.values())
    inputs, nrow = r.preview_inputs(8, seeded(1))
    x = r.generate(inputs)
    if points:
        assert x.shape == (2500, 2) and nrow == 0  # model.eval_points for the scatter and the mode metrics
    elif r.conditional:
        assert x.shape == (8, 3, 16, 16) and nrow == 2  # 4 classes x 2 columns: one row per class
        assert inputs["y"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    else:
        assert x.shape == (8, 3, 16, 16) and nrow == 8 and x.abs().max() <= 1


@pytest.mark.parametrize("recipe,points", CASES)
def test_checkpoint_round_trip_gives_the_same_samples(recipe: str, points: int) -> None:
    torch.manual_seed(0)
    r = make(recipe, points, **{"model.ema": 0.9})
    for _ in range(2):
        r.train_step(batch(r))
    state = copy.deepcopy(r.state_dict())  # as if through a file: optimizer state dicts hold live tensors
    torch.manual_seed(1)
    r2 = make(recipe, points, **{"model.ema": 0.9})
    r2.load_state_dict(state)
    assert r2.d_updates == 2 and r2.ema.updates == 2
    inputs = r.sample_inputs(5, seeded(3))
    assert torch.equal(r.generate(inputs), r2.generate(inputs))
    # training goes on identically from the restored optimizer state
    torch.manual_seed(7)
    a = r.train_step(batch(r))
    torch.manual_seed(7)
    b = r2.train_step(batch(r2))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_n_critic_updates_g_every_nth_step() -> None:
    torch.manual_seed(0)
    r = make("wgangp", **{"model.n_critic": 3})
    g0 = params(r)
    seen = []
    for _ in range(3):
        out = r.train_step(batch(r))
        seen.append("loss_g" in out)
        if len(seen) < 3:
            assert all(torch.equal(g0[k], p) for k, p in params(r).items() if k.startswith("g."))
    assert seen == [False, False, True]
    assert not torch.equal(g0["g.fc.0.weight"], r.g.fc[0].weight)
    assert "gp" in out and "w_distance" in out and "loss_d_adv" in out  # wasserstein always brings its penalty


def test_ema_equals_the_hand_computed_average_after_three_steps() -> None:
    torch.manual_seed(0)
    decay = 0.5
    r = make("mlp", **{"model.ema": decay})
    expected = [p.detach().clone() for p in r.g.parameters()]
    for t in range(1, 4):
        r.train_step(batch(r))
        d = min(decay, (1 + t) / (10 + t))  # 0.18, 0.25, 0.31: the ramp, all below decay 0.5
        expected = [d * e + (1 - d) * p.detach() for e, p in zip(expected, r.g.parameters())]
    for e, got in zip(expected, r.ema.net.parameters()):
        assert torch.allclose(e, got, atol=1e-6)
    assert not torch.equal(expected[0], r.g.main[0].weight)


@pytest.mark.parametrize("option", [
    {"model.loss": "minimax"}, {"model.loss": "lsgan"}, {"model.loss": "hinge"},
    {"model.loss": "wasserstein", "model.d_norm": "layer"}, {"model.r1": 10, "model.d_norm": "none"},
    {"model.gp": 10, "model.d_norm": "layer"}, {"model.label_smoothing": 0.1}, {"model.instance_noise": 0.1},
    {"model.spectral_norm": "true"}, {"model.packing": 4}, {"model.minibatch_std": "true"}, {"model.g_dropout": 0.2},
])
def test_every_toolbox_option_trains(option: dict[str, Any]) -> None:
    torch.manual_seed(0)
    r = make("dcgan", **option)
    before = params(r)
    out = r.train_step(batch(r))
    assert all(torch.isfinite(v) for v in out.values())
    after = params(r)
    assert all(not torch.equal(before[k], after[k]) for k in before)


def test_options_reach_the_networks() -> None:
    r = make("dcgan", **{"model.spectral_norm": "true", "model.packing": 2, "model.minibatch_std": "true",
                         "model.g_dropout": 0.3, "model.d_norm": "layer"})
    assert any("parametrizations" in k for k in r.d.state_dict())
    assert r.d.main[0].in_channels == 3 * 2
    assert any(isinstance(m, torch.nn.Dropout) and m.p == 0.3 for m in r.g.modules())
    assert any(isinstance(m, torch.nn.GroupNorm) for m in r.d.modules())
    assert r.d(torch.zeros(8, 3, 16, 16)).shape == (4,)
    c = make("cdcgan")
    assert c.d.main[0].in_channels == 3 + 4 and c.g.main[0].in_channels == 8 + 4


def test_label_smoothing_and_instance_noise_reach_the_loss() -> None:
    from ganforge.losses import AdversarialLoss

    torch.manual_seed(0)
    r = make("mlp", **{"model.label_smoothing": 0.2, "model.instance_noise": 0.5})
    seen: dict[str, Any] = {}

    def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float) -> torch.Tensor:
        seen["target"] = real_target
        return fake_logits.mean() - real_logits.mean()

    r.loss = AdversarialLoss(d_loss, lambda f: -f.mean(), True, False, False)
    inputs: list[torch.Tensor] = []
    r.d.register_forward_pre_hook(lambda mod, args: inputs.append(args[0].detach().clone()))
    b = batch(r)
    r.train_step(b)
    assert seen["target"] == pytest.approx(0.8)
    noise = inputs[0] - b.image
    assert 0.4 < noise.std().item() < 0.6  # Gaussian instance noise of std 0.5 on D's real input


def test_packing_and_minibatch_std_shapes() -> None:
    x = torch.arange(6 * 2 * 3 * 3, dtype=torch.float).view(6, 2, 3, 3)
    p = pack(x, 3)
    assert p.shape == (2, 6, 3, 3) and torch.equal(p[1, 2:4], x[4]) and torch.equal(p[0, :2], x[0])
    with pytest.raises(ValueError, match="does not divide"):
        pack(x, 4)
    y = MinibatchStd(group_size=2)(x)
    assert y.shape == (6, 3, 3, 3) and torch.equal(y[:, :2], x)
    # groups are samples (i, i + 3); the std of (a, b) is |a - b| / 2 = (3 * 18) / 2 = 27 for every element
    assert torch.allclose(y[:, 2], torch.full((6, 3, 3), 27.0), atol=1e-3)
    v = MinibatchStd()(torch.randn(8, 5))
    assert v.shape == (8, 6) and torch.all(v[:, 5] > 0)
    d = MLPDiscriminator((2,), (8, 8), packing=4, minibatch_std=True)
    assert d(torch.randn(8, 2)).shape == (2,)


def test_label_conditioning_shapes() -> None:
    y = torch.tensor([2, 0])
    h = with_labels(torch.zeros(2, 3, 4, 4), y, 3)
    assert h.shape == (2, 6, 4, 4) and h[0, 3 + 2].eq(1).all() and h[0, 3].eq(0).all() and h[1, 3].eq(1).all()
    assert with_labels(torch.zeros(2, 5), y, 3).tolist()[0] == [0] * 5 + [0, 0, 1]
    g = MLPGenerator(4, (1, 8, 8), (16,), n_classes=3)
    assert g(torch.randn(2, 4), y).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="pass labels"):
        g(torch.randn(2, 4))


def test_wgangp_networks_follow_gulrajani() -> None:
    g, d = WGANGPGenerator(128, 64, 3, 64), WGANGPCritic(64, 3, 64)
    assert g.fc[0].out_features == 8192  # the seed's "Dense: 8192" = 4 * 4 * 8 * 64
    x = g(torch.randn(2, 128))
    assert x.shape == (2, 3, 64, 64) and d(x).shape == (2,)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())  # no BatchNorm in the critic
    # Linear 128->8192 (+BN1d) and 5x5 transposed convs 512->256->128->64->3; critic 3->64->...->512, Linear 8192->1
    expect_g = (128 * 8192 + 8192) + 2 * 8192 + sum(a * b * 25 + b + 2 * b for a, b in [(512, 256), (256, 128), (128, 64)]) \
        + 64 * 3 * 25 + 3
    expect_d = (3 * 64 * 25 + 64) + sum(a * b * 25 + b + 2 * b for a, b in [(64, 128), (128, 256), (256, 512)]) + 8192 + 1
    assert count_parameters(g) == expect_g and count_parameters(d) == expect_d


@pytest.mark.parametrize("over,message", [
    ({"model.gp": -1}, "model.gp must be >= 0"),
    ({"model.r1": -0.5}, "model.r1 must be >= 0"),
    ({"model.n_critic": 0}, "model.n_critic must be >= 1; got 0"),
    ({"model.packing": 3}, "model.packing=3 does not divide train.batch_size=8"),
    ({"model.loss": "hinge", "model.label_smoothing": 0.1}, "needs a loss with a real target"),
    ({"model.loss": "wgan"}, "model.loss must be one of nonsaturating, minimax, lsgan, hinge, wasserstein; got 'wgan'"),
    ({"model.loss": "wasserstein"}, "needs a discriminator without BatchNorm: set model.d_norm=layer or none"),
    ({"model.g_dropout": 1.0}, "model.g_dropout must be in [0, 1)"),
])
def test_bad_toolbox_values(over: dict[str, Any], message: str) -> None:
    with pytest.raises(GanforgeError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        make("dcgan", **over)


def test_conditional_recipe_needs_labels() -> None:
    cfg = resolve([{"recipe": "cgan"}])
    with pytest.raises(GanforgeError, match="class-conditional but the data has no labels"):
        RECIPES.get("cgan")(cfg, DataInfo(1, 28), torch.device("cpu"))


def test_recipe_defaults_lie_under_presets() -> None:
    cfg = resolve([{"recipe": "wgangp"}])
    assert (cfg.optim.lr, cfg.optim.beta1, cfg.optim.beta2) == (1e-4, 0.5, 0.9)
    assert cfg.model.loss == "wasserstein" and cfg.model.n_critic == 5 and cfg.model.resolved_gp == 10
    assert resolve([{"recipe": "wgangp"}, {"optim": {"lr": 3e-4}}]).optim.lr == 3e-4
    assert resolve([{"recipe": "dcgan"}]).model.resolved_gp == 0


def test_lr_decay_is_a_share_of_the_run() -> None:
    """optim.decay=0.5: constant for the first half of train.epochs, then linear towards 0 (the pix2pix policy, stepped
    per epoch); a shortened run keeps the shape; optim.decay_epochs, when set, wins."""
    r = make("mlp", **{"optim.decay": 0.5, "train.epochs": 4, "optim.lr": 1e-3})
    lrs = []
    for _ in range(4):
        lrs.append(r.optimizers["g"].param_groups[0]["lr"])
        with warnings.catch_warnings():  # stepped without training steps in between
            warnings.simplefilter("ignore", UserWarning)
            for s in r.schedulers.values():
                s.step()
    assert lrs == pytest.approx([1e-3, 1e-3, 1e-3 * 2 / 3, 1e-3 / 3])
    cfg = resolve([{"recipe": "mlp", "optim": {"decay": 0.5, "decay_epochs": 3}, "train": {"epochs": 10}}])
    assert cfg.optim.resolved_decay_epochs(10) == 3
    flat = make("mlp", **{"train.epochs": 4, "optim.lr": 1e-3})  # no decay: the factor stays 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(3):
            for s in flat.schedulers.values():
                s.step()
    assert flat.optimizers["g"].param_groups[0]["lr"] == 1e-3
    with pytest.raises(GanforgeError, match=r"optim.decay must be in \[0, 1\] \(a share of train.epochs\); got 1.5"):
        make("mlp", **{"optim.decay": 1.5})
