"""The speed settings (train.precision, channels_last, compile, fused Adam): every recipe steps with finite
losses under each, channels-last computes what the default layout computes, and the fused optimizer what the
plain one does. No durations are asserted here: speed is measured by `ganforge bench`."""

from __future__ import annotations

import math

import pytest
import torch

from ganforge import speed
from ganforge.configure import resolve
from ganforge.data.loader import Batch
from ganforge.errors import GanforgeError
from ganforge.recipes.base import DataInfo
from ganforge.recipes import RECIPES

CPU = torch.device("cpu")

# One tiny configuration per training scheme: the GAN step (with BatchNorm), the WGAN-GP step (penalty and
# n_critic), the MLP GAN, pix2pix and CycleGAN.
TINY = {
    "dcgan": {"model": {"g_width": 4, "d_width": 4, "latent_dim": 8}},
    "wgangp": {"model": {"g_width": 4, "d_width": 4, "latent_dim": 8, "n_critic": 2}},
    "mlp": {"model": {"g_hidden": [16], "d_hidden": [16], "latent_dim": 8}},
    "pix2pix": {"model": {"generator": "unet_32", "g_width": 4, "d_width": 4, "d_layers": 2}},
    "cyclegan": {"model": {"generator": "resnet_6blocks", "g_width": 4, "d_width": 4, "d_layers": 2, "pool_size": 2},
                 "data": {"image_size": 16}},
}


def make(recipe: str, **train: object):
    layers = [{"recipe": recipe, "data": {"image_size": 32}, **TINY[recipe], "train": {"batch_size": 4, **train}}]
    cfg = resolve(layers)
    torch.manual_seed(0)
    info = DataInfo(3, cfg.data.image_size, input_channels=3 if recipe in ("pix2pix", "cyclegan") else 0)
    return RECIPES.get(recipe).build(cfg, info, CPU)


def batch(recipe: str) -> Batch:
    g = torch.Generator().manual_seed(1)
    s = TINY[recipe].get("data", {}).get("image_size", 32)
    x = torch.rand(4, 3, s, s, generator=g) * 2 - 1
    if recipe in ("pix2pix", "cyclegan"):
        return Batch(x, target=torch.rand(4, 3, s, s, generator=g) * 2 - 1)
    return Batch(x)


def params(r) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": p.detach().clone() for n, net in r.nets.items() for k, p in net.named_parameters()}


@pytest.mark.parametrize("recipe", list(TINY))
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_each_precision_steps_with_finite_losses(recipe: str, precision: str) -> None:
    r = make(recipe, precision=precision)
    assert r.precision == precision
    before = params(r)
    for _ in range(2):
        out = r.train_step(batch(recipe))
    assert out and all(math.isfinite(float(v)) for v in out.values()), out
    assert all(v.dtype == torch.float32 for v in out.values())  # losses are fp32 whatever the autocast dtype
    same = [k for k, p in params(r).items() if torch.equal(p, before[k])]
    # the Wasserstein loss and its penalty do not depend on the critic's output bias: it gets no gradient
    assert same == (["d.fc.bias"] if recipe == "wgangp" else []), same


def test_bf16_is_really_used_and_close_to_fp32() -> None:
    """bf16 autocast changes the numbers (it is not silently ignored), but only by rounding."""
    outs = {p: make("dcgan", precision=p).train_step(batch("dcgan")) for p in ("fp32", "bf16")}
    d32, d16 = float(outs["fp32"]["loss_d"]), float(outs["bf16"]["loss_d"])
    assert d32 != d16
    assert d16 == pytest.approx(d32, rel=0.05)


def test_precision_auto_and_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speed, "native_bf16", lambda device: True)
    assert speed.resolve_precision("auto", CPU) == "bf16"
    monkeypatch.setattr(speed, "native_bf16", lambda device: False)
    assert speed.resolve_precision("auto", CPU) == "fp32"
    with pytest.raises(GanforgeError, match="fp16 needs a CUDA device"):
        speed.resolve_precision("fp16", CPU)
    assert speed.resolve_precision("fp16", CPU, strict=False) == "fp32"  # sampling an fp16 checkpoint on a CPU
    with pytest.raises(GanforgeError, match="train.precision must be one of auto, fp32, bf16, fp16; got .fp8."):
        resolve([{"recipe": "dcgan", "train": {"precision": "fp8"}}])


@pytest.mark.parametrize("recipe", ["dcgan", "pix2pix", "cyclegan"])
def test_channels_last_computes_what_the_default_layout_does(recipe: str) -> None:
    runs = {}
    for cl in (False, True):
        r = make(recipe, precision="fp32", channels_last="yes" if cl else "no")
        assert r.channels_last is cl
        if cl:
            weights = [p for net in r.nets.values() for p in net.parameters() if p.dim() == 4]
            assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
        outs = [r.train_step(batch(recipe)) for _ in range(2)]  # the second step runs on updated weights
        runs[cl] = (outs, params(r))
    (o0, p0), (o1, p1) = runs[False], runs[True]
    for s0, s1 in zip(o0, o1):
        for k in s0:
            assert float(s1[k]) == pytest.approx(float(s0[k]), rel=1e-4, abs=1e-5), k
    # Adam's first steps move every parameter by about lr whatever the gradient's size, so the biases in front
    # of a norm layer (whose gradient is zero up to rounding) move either way: compare the weights
    for k in p0:
        if p0[k].dim() > 1:
            assert torch.allclose(p0[k], p1[k], rtol=1e-4, atol=5e-5), k


def test_channels_last_auto() -> None:
    cuda = torch.device("cuda")
    assert speed.use_channels_last("auto", cuda, cpu_default=False)
    assert speed.use_channels_last("auto", CPU, cpu_default=True)
    assert not speed.use_channels_last("auto", CPU, cpu_default=False)
    assert speed.use_channels_last("yes", CPU, cpu_default=False) and not speed.use_channels_last("no", cuda, True)
    assert make("dcgan").channels_last and not make("cyclegan").channels_last  # the recipes' CPU preferences


def test_fused_adam_makes_the_plain_adam_update() -> None:
    torch.manual_seed(0)
    a = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(3))]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    fast = speed.adam(a, 1e-2, (0.5, 0.999), 0.0, CPU)
    plain = torch.optim.Adam(b, 1e-2, betas=(0.5, 0.999), foreach=False)
    for step in range(5):
        for ps, opt in ((a, fast), (b, plain)):
            opt.zero_grad()
            (ps[0].sum() * (step + 1) + (ps[1] ** 2).sum()).backward()
            opt.step()
    for x, y in zip(a, b):
        assert torch.allclose(x, y, atol=1e-6)
    # a checkpoint of the fused optimizer loads into a foreach one, which stays foreach
    other = torch.optim.Adam([torch.nn.Parameter(p.detach().clone()) for p in a], 1e-2, foreach=True)
    speed.keep_implementation(other, fast.state_dict())
    assert other.param_groups[0]["foreach"] is True and not other.param_groups[0].get("fused")


def test_compile_runs_a_step_with_finite_losses() -> None:
    """train.compile: the networks go through torch.compile (inductor; slow to compile, so the smallest net)."""
    r = make("mlp", precision="fp32", compile=True)
    assert all(getattr(net, "_compiled_call_impl", None) is not None for net in r.nets.values())
    out = r.train_step(batch("mlp"))
    assert all(math.isfinite(float(v)) for v in out.values())
    eager = make("mlp", precision="fp32").train_step(batch("mlp"))
    for k in eager:
        assert float(out[k]) == pytest.approx(float(eager[k]), rel=1e-4, abs=1e-5), k


def test_impossible_settings_are_one_line_errors(capsys: pytest.CaptureFixture, tmp_path) -> None:
    from ganforge.cli import main

    for setting, message in (("train.precision=fp16", "train.precision=fp16 needs a CUDA device"),
                             ("train.precision=fp64", "train.precision")):
        code = main(["train", "--out", str(tmp_path / "r"), "train.device=cpu", setting, "train.progress=false"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "r").exists()  # nothing written
