"""The DCGAN recipe's step: every parameter moves, scores are probabilities, samples are deterministic."""

from __future__ import annotations

import torch

from ganforge.config import parse_override
from ganforge.configure import resolve
from ganforge.data.loader import Batch
from ganforge.recipes.base import DataInfo
from ganforge.recipes.gan import DCGAN
from ganforge.rng import seeded

from .conftest import tiny_overrides


def make(**extra: object) -> DCGAN:
    cfg = resolve([parse_override(o) for o in tiny_overrides(**extra)])
    return DCGAN(cfg, DataInfo(3, 16), torch.device("cpu"))


def test_one_step_changes_every_parameter() -> None:
    torch.manual_seed(0)
    r = make()
    before = {f"{n}.{k}": p.detach().clone() for n, net in r.nets.items() for k, p in net.named_parameters()}
    out = r.train_step(Batch(torch.rand(8, 3, 16, 16) * 2 - 1))
    after = {f"{n}.{k}": p for n, net in r.nets.items() for k, p in net.named_parameters()}
    unchanged = [k for k in before if torch.equal(before[k], after[k])]
    assert not unchanged, unchanged
    assert set(out) == {"loss_d", "loss_g", "d_real", "d_fake"}
    assert all(v.dim() == 0 and not v.requires_grad for v in out.values())
    assert 0 < out["d_real"].item() < 1 and 0 < out["d_fake"].item() < 1


def test_discriminator_learns_to_separate_a_fixed_real_batch() -> None:
    torch.manual_seed(0)
    r = make(**{"model.d_width": 8})
    real = Batch(torch.ones(8, 3, 16, 16) * 0.8)
    first = r.train_step(real)
    for _ in range(30):
        last = r.train_step(real)
    assert last["d_real"] > first["d_real"] and last["loss_d"] < first["loss_d"]


def test_generate_is_deterministic_and_independent_of_batch_mates() -> None:
    torch.manual_seed(0)
    r = make()
    r.train_step(Batch(torch.rand(8, 3, 16, 16) * 2 - 1))
    z = r.sample_inputs(6, seeded(1))
    a, b = r.generate(z), r.generate({"z": z["z"][:2]})
    assert a.shape == (6, 3, 16, 16)
    assert torch.allclose(a[:2], b, atol=1e-5)
    assert r.g.training  # generate leaves the training mode as it found it


def test_ema_generator_follows_the_generator() -> None:
    torch.manual_seed(0)
    r = make(**{"model.ema": 0.5})
    assert set(r.nets) == {"g", "d", "g_ema"}
    start = [p.detach().clone() for p in r.ema.net.parameters()]
    for _ in range(3):
        r.train_step(Batch(torch.rand(8, 3, 16, 16) * 2 - 1))
    for e, s, g in zip(r.ema.net.parameters(), start, r.g.parameters()):
        assert not e.requires_grad
        assert not torch.equal(e, s)  # it moved ...
        assert not torch.equal(e, g)  # ... but lags behind G
    # the first updates use the ramp (1 + t) / (10 + t): 0.2, 0.25, 0.31, all below decay 0.5
    assert r.ema.updates == 3


def test_standing_statistics_are_kept_until_the_weights_change() -> None:
    """Sampling reuses the standing BatchNorm statistics while the weights stay (a served model), and recomputes
    them after a training step or a loaded state: the same images as a recipe that recomputes every time."""
    from ganforge.rng import Stream, seeded

    r = make()
    z = r.sample_inputs(6, seeded(0, Stream.SAMPLE))
    first = r.generate(z)
    assert not r.weights_changed and torch.equal(first, r.generate(z))
    r.train_step(Batch(torch.rand(8, 3, 16, 16) * 2 - 1))
    assert r.weights_changed
    after = r.generate(z)
    fresh = make()
    fresh.load_state_dict(r.state_dict())
    assert not torch.equal(after, first) and torch.equal(after, fresh.generate(z))
    bn = next(m for m in r.g.modules() if isinstance(m, torch.nn.BatchNorm2d))
    bn.running_mean.fill_(5.0)  # stale buffers are recomputed after a state is loaded
    r.load_state_dict(fresh.state_dict())
    assert torch.equal(r.generate(z), after)
