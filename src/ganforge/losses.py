"""Adversarial losses as pure functions on discriminator logits, named by who minimises them.

Goodfellow et al. 2014, eq. 1, written with softplus so that no Sigmoid+BCELoss pair is needed:
  -log D(x)       = softplus(-l_real)       -log(1 - D(G(z))) = softplus(l_fake)
The non-saturating generator loss (section 3 of the paper) is -log D(G(z)) = softplus(-l_fake).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss_nonsaturating(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator's binary cross-entropy: E[-log D(x)] + E[-log(1 - D(G(z)))]."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator's non-saturating loss: E[-log D(G(z))]."""
    return F.softplus(-fake_logits).mean()
