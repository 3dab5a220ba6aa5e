"""Adversarial losses as pure functions on discriminator logits, named by who minimises them, and the
gradient penalties (WGAN-GP, R1, R2).

Each adversarial loss is a pair ``(d_loss(real_logits, fake_logits, real_target), g_loss(fake_logits))``
registered in ``LOSSES`` under the name the config uses (``model.loss``):

- ``nonsaturating`` (Goodfellow et al. 2014, eq. 1 for D; section 3 for G): written with softplus,
  -log D(x) = softplus(-l), -log(1 - D(G(z))) = softplus(l); G minimises -log D(G(z)).
- ``minimax``: the same D loss; G minimises log(1 - D(G(z))) = -softplus(l), the original game.
- ``lsgan`` (Mao et al. 2017, eq. 2 with a=0, b=c=1): D minimises 1/2 E[(D(x)-1)^2] + 1/2 E[D(G(z))^2],
  G minimises 1/2 E[(D(G(z))-1)^2].
- ``hinge`` (Lim & Ye 2017; Miyato et al. 2018): D minimises E[relu(1 - D(x))] + E[relu(1 + D(G(z)))],
  G minimises -E[D(G(z))].
- ``wasserstein`` (Arjovsky et al. 2017; Gulrajani et al. 2017): the critic minimises
  E[D(G(z))] - E[D(x)], G minimises -E[D(G(z))]. It needs a Lipschitz constraint: recipes add
  ``gradient_penalty`` with weight 10 unless told otherwise.

Not registered (its generator loss needs the real logits, which the registry's ``g(fake_logits)`` does not take):

- ``rpgan``, the relativistic pairing GAN (Jolicoeur-Martineau 2019; R3GAN, Huang et al. 2024, section 2, with
  f = softplus(-t) as in brownvc/R3GAN R3GAN/Trainer.py): D minimises E[softplus(-(D(x) - D(G(z))))], G minimises
  E[softplus(-(D(G(z)) - D(x)))], each real logit paired with the fake logit at the same batch position.
  R3GAN adds R1 and R2 (``r1_penalty``, ``r2_penalty``) to D's loss with weight gamma/2.

``real_target`` below 1 is one-sided label smoothing (Salimans et al. 2016, section 3.4): only the real
target moves; it exists for the losses that have a target (nonsaturating, minimax, lsgan).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .errors import choices_error
from .registry import Registry

LOSSES: Registry = Registry("loss", choices_error)  # adversarial loss pairs by config name (model.loss)


def _bce_real(real_logits: torch.Tensor, target: float) -> torch.Tensor:
    """E[-t log D(x) - (1 - t) log(1 - D(x))] on logits; t = 1 gives E[-log D(x)]."""
    if target == 1.0:
        return F.softplus(-real_logits).mean()
    return (target * F.softplus(-real_logits) + (1.0 - target) * F.softplus(real_logits)).mean()


def d_loss_nonsaturating(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """Discriminator's binary cross-entropy: E[-log D(x)] + E[-log(1 - D(G(z)))]."""
    return _bce_real(real_logits, real_target) + F.softplus(fake_logits).mean()


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator's non-saturating loss: E[-log D(G(z))]."""
    return F.softplus(-fake_logits).mean()


def g_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator's side of the original minimax game: E[log(1 - D(G(z)))] (saturates when D wins)."""
    return -F.softplus(fake_logits).mean()


def d_loss_lsgan(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """Least squares: 1/2 E[(D(x) - b)^2] + 1/2 E[D(G(z))^2], b = real_target."""
    return 0.5 * ((real_logits - real_target) ** 2).mean() + 0.5 * (fake_logits**2).mean()


def g_loss_lsgan(fake_logits: torch.Tensor) -> torch.Tensor:
    """Least squares: 1/2 E[(D(G(z)) - 1)^2]."""
    return 0.5 * ((fake_logits - 1.0) ** 2).mean()


def d_loss_hinge(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """Hinge: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def g_loss_critic(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator against a critic (hinge and Wasserstein): -E[D(G(z))]."""
    return -fake_logits.mean()


def _check_pairs(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> None:
    if real_logits.shape != fake_logits.shape:
        raise ValueError(f"relativistic pairing needs real and fake logits of one shape, got {tuple(real_logits.shape)} "
                         f"and {tuple(fake_logits.shape)}")


def d_loss_rpgan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Relativistic pairing, D's side: E[softplus(-(D(x_i) - D(G(z_i))))], the pairs taken element-wise."""
    _check_pairs(real_logits, fake_logits)
    return F.softplus(-(real_logits.float() - fake_logits.float())).mean()


def g_loss_rpgan(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Relativistic pairing, G's side: E[softplus(-(D(G(z_i)) - D(x_i)))] (the real logits carry no gradient to G's
    parameters but do shape its loss)."""
    _check_pairs(real_logits, fake_logits)
    return F.softplus(-(fake_logits.float() - real_logits.float())).mean()


def d_loss_wasserstein(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """Critic: E[D(G(z))] - E[D(x)] (the negative Wasserstein estimate); add a gradient penalty."""
    return fake_logits.mean() - real_logits.mean()


@dataclass(frozen=True)
class AdversarialLoss:
    """A registered loss pair. ``d`` and ``g`` take logits in any float dtype and compute in fp32 (under
    bf16/fp16 autocast the logits arrive in half precision; the loss values and their means should not)."""

    d_fn: Callable[..., torch.Tensor]
    g_fn: Callable[[torch.Tensor], torch.Tensor]
    has_target: bool  # label smoothing applies
    probabilities: bool  # sigmoid(logit) is D's probability that the input is real
    needs_lipschitz: bool  # meaningless without a gradient penalty or spectral norm
    # What turns this loss into the form of the pix2pix/CycleGAN reference code, whose least-squares losses are
    # plain MSE (the LSGAN paper's, used here, carries a 1/2): 2 for lsgan, 1 otherwise.
    reference_scale: float = 1.0

    def d(self, real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
        return self.d_fn(real_logits.float(), fake_logits.float(), real_target)

    def g(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return self.g_fn(fake_logits.float())

    def score(self, logits: torch.Tensor) -> torch.Tensor:
        """D's mean verdict: the probability of 'real' for BCE losses, the raw score otherwise."""
        return (torch.sigmoid(logits.float()) if self.probabilities else logits.float()).mean()


LOSSES.register("nonsaturating")(AdversarialLoss(d_loss_nonsaturating, g_loss_nonsaturating, True, True, False))
LOSSES.register("minimax")(AdversarialLoss(d_loss_nonsaturating, g_loss_minimax, True, True, False))
LOSSES.register("lsgan")(AdversarialLoss(d_loss_lsgan, g_loss_lsgan, True, False, False, reference_scale=2.0))
LOSSES.register("hinge")(AdversarialLoss(d_loss_hinge, g_loss_critic, False, False, False))
LOSSES.register("wasserstein")(AdversarialLoss(d_loss_wasserstein, g_loss_critic, False, False, True))


# --------------------------------------------------------------------------------------------------
# Penalties: functions of the critic and its inputs (they need gradients with respect to the input)


def _input_grad_norms(outputs: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 norm of d(sum outputs)/d(inputs), keeping the graph for the backward pass."""
    (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return grad.flatten(1).norm(2, dim=1)


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     alpha: torch.Tensor) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017, algorithm 1): E[(||grad D(x_hat)||_2 - 1)^2] at
    x_hat = alpha * real + (1 - alpha) * fake, with one alpha ~ U[0, 1] per sample (shape (N,)).
    Multiply by lambda (10 in the paper) yourself."""
    a = alpha.view(-1, *([1] * (real.dim() - 1))).to(real.dtype)
    x_hat = (a * real.detach() + (1.0 - a) * fake.detach()).requires_grad_(True)
    return ((_input_grad_norms(critic(x_hat), x_hat) - 1.0) ** 2).mean()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018, eq. 9 without the gamma/2 factor): E[||grad D(x)||^2] on real data.
    ``real`` must have had ``requires_grad_(True)`` before ``real_logits = D(real)``."""
    return (_input_grad_norms(real_logits, real) ** 2).mean()


def r2_penalty(fake_logits: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """R2 (Mescheder et al. 2018, eq. 10; R3GAN's second penalty): E[||grad D(x)||^2] on generated data, with
    ``r1_penalty``'s convention (no gamma/2 factor: R3GAN's D loss adds gamma/2 * (R1 + R2)). ``fake`` must be
    detached from G and have had ``requires_grad_(True)`` before ``fake_logits = D(fake)``."""
    return (_input_grad_norms(fake_logits, fake) ** 2).mean()
