"""Closed-form values of the adversarial losses."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ganforge.losses import d_loss_nonsaturating, g_loss_nonsaturating


def test_at_zero_logits_the_losses_are_log2() -> None:
    z = torch.zeros(5)
    assert math.isclose(d_loss_nonsaturating(z, z).item(), 2 * math.log(2), rel_tol=1e-6)
    assert math.isclose(g_loss_nonsaturating(z).item(), math.log(2), rel_tol=1e-6)


def test_equal_binary_cross_entropy_with_probabilities() -> None:
    torch.manual_seed(0)
    real, fake = torch.randn(64) * 3, torch.randn(64) * 3
    pr, pf = torch.sigmoid(real), torch.sigmoid(fake)
    expected_d = -(torch.log(pr).mean() + torch.log(1 - pf).mean())
    expected_g = -torch.log(pf).mean()
    assert torch.allclose(d_loss_nonsaturating(real, fake), expected_d, atol=1e-5)
    assert torch.allclose(g_loss_nonsaturating(fake), expected_g, atol=1e-5)
    assert torch.allclose(d_loss_nonsaturating(real, fake),
                          F.binary_cross_entropy_with_logits(real, torch.ones(64))
                          + F.binary_cross_entropy_with_logits(fake, torch.zeros(64)), atol=1e-6)


def test_stable_for_extreme_logits() -> None:
    big = torch.tensor([1000.0, -1000.0])
    assert torch.isfinite(d_loss_nonsaturating(big, big))
    assert math.isclose(d_loss_nonsaturating(torch.tensor([100.0]), torch.tensor([-100.0])).item(), 0.0, abs_tol=1e-6)
    assert math.isclose(g_loss_nonsaturating(torch.tensor([-100.0])).item(), 100.0, rel_tol=1e-6)


def test_generator_gradient_does_not_saturate() -> None:
    # -log D(G(z)) keeps a gradient of about -1 when D confidently rejects fakes (logit -10);
    # the minimax form log(1 - D(G(z))) would give about -sigmoid(-10) ~ -4.5e-5 there.
    fake = torch.tensor([-10.0], requires_grad=True)
    g_loss_nonsaturating(fake).backward()
    assert fake.grad.item() < -0.99
