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


# --------------------------------------------------------------------------------------------------
# The rest of the toolbox: closed forms

from ganforge.losses import (  # noqa: E402
    d_loss_hinge,
    d_loss_lsgan,
    d_loss_wasserstein,
    g_loss_critic,
    g_loss_lsgan,
    g_loss_minimax,
    gradient_penalty,
    r1_penalty,
)
from ganforge.losses import LOSSES  # noqa: E402


def test_registry_names_every_loss() -> None:
    assert LOSSES.names() == ["hinge", "lsgan", "minimax", "nonsaturating", "wasserstein"]
    assert LOSSES.get("minimax").d_fn is d_loss_nonsaturating and LOSSES.get("minimax").g_fn is g_loss_minimax


def test_minimax_generator_is_log_one_minus_d() -> None:
    fake = torch.tensor([-2.0, 0.5, 3.0])
    assert torch.allclose(g_loss_minimax(fake), torch.log(1 - torch.sigmoid(fake)).mean(), atol=1e-6)


def test_lsgan_values() -> None:
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0])
    # 1/2 mean((r - 1)^2) + 1/2 mean(f^2) = 1/2 * (0 + 4)/2 + 1/2 * (0 + 4)/2 = 2
    assert math.isclose(d_loss_lsgan(real, fake).item(), 2.0)
    assert math.isclose(g_loss_lsgan(fake).item(), 0.5 * (1 + 1) / 2)
    # label smoothing moves the real target: target 0.9
    assert math.isclose(d_loss_lsgan(torch.tensor([0.9]), torch.tensor([0.0]), 0.9).item(), 0.0, abs_tol=1e-7)


def test_hinge_and_wasserstein_values() -> None:
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-3.0, 0.0])
    # relu(1 - r) = [0, 0.5] -> 0.25 ; relu(1 + f) = [0, 1] -> 0.5
    assert math.isclose(d_loss_hinge(real, fake).item(), 0.75)
    assert math.isclose(d_loss_wasserstein(real, fake).item(), -1.5 - 1.25)
    assert math.isclose(g_loss_critic(fake).item(), 1.5)


def test_label_smoothing_is_bce_against_the_smoothed_target() -> None:
    real, fake = torch.tensor([0.3, -1.2, 2.0]), torch.tensor([0.1, -0.5, 1.0])
    expected = (F.binary_cross_entropy_with_logits(real, torch.full((3,), 0.9))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros(3)))
    assert torch.allclose(d_loss_nonsaturating(real, fake, 0.9), expected, atol=1e-6)


def test_gradient_penalty_of_a_linear_critic_is_closed_form() -> None:
    # D(x) = <w, x> + b has gradient w everywhere: the penalty is (||w|| - 1)^2 whatever alpha is.
    torch.manual_seed(0)
    w = torch.randn(3 * 4 * 4)
    critic = lambda x: x.flatten(1) @ w + 0.7  # noqa: E731
    real, fake = torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4)
    gp = gradient_penalty(critic, real, fake, torch.rand(6))
    assert math.isclose(gp.item(), (w.norm().item() - 1) ** 2, rel_tol=1e-5)
    # and a unit-norm critic is not penalised
    w1 = w / w.norm()
    assert gradient_penalty(lambda x: x.flatten(1) @ w1, real, fake, torch.rand(6)).item() < 1e-10


def test_gradient_penalty_interpolates_per_sample_and_backpropagates() -> None:
    # A critic with gradient 2x: ||grad|| at x_hat = 2 ||x_hat||; alpha = 1 puts x_hat on the real samples.
    real, fake = torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0, 1.0]])
    lin = torch.nn.Linear(2, 1)
    critic = lambda x: (x**2).sum(1) + 0 * lin(x).sum()  # noqa: E731
    gp = gradient_penalty(critic, real, fake, torch.tensor([1.0]))
    assert math.isclose(gp.item(), (2 * 5 - 1) ** 2, rel_tol=1e-6)
    assert math.isclose(gradient_penalty(critic, real, fake, torch.tensor([0.0])).item(), (2 * 1 - 1) ** 2, rel_tol=1e-6)
    w = torch.nn.Parameter(torch.tensor([2.0, 0.0]))
    gradient_penalty(lambda x: x @ w, real, fake, torch.tensor([0.5])).backward()
    assert torch.allclose(w.grad, torch.tensor([2 * (2 - 1) * 1.0, 0.0]))  # d/dw (||w|| - 1)^2 = 2(||w|| - 1) w/||w||


def test_r1_of_a_linear_critic_is_the_squared_weight_norm() -> None:
    w = torch.tensor([1.0, -2.0, 2.0])
    real = torch.randn(5, 3).requires_grad_(True)
    assert math.isclose(r1_penalty(real @ w, real).item(), 9.0, rel_tol=1e-6)
