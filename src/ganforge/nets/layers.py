"""Shared layer helpers: the DCGAN/pix2pix weight initialisation.

Radford et al. (DCGAN, 2016), section 4: "All weights were initialized from a zero-centered Normal
distribution with standard deviation 0.02"; BatchNorm scales N(1, 0.02), shifts 0 (pytorch/examples dcgan).
"""

from __future__ import annotations

import torch
from torch import nn


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """Conv/Linear weights ~ N(0, std), biases 0; norm-layer weights ~ N(1, std), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.InstanceNorm2d, nn.GroupNorm, nn.LayerNorm)):
            if getattr(m, "weight", None) is not None:
                nn.init.normal_(m.weight, 1.0, std)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    """Trainable and frozen parameters, not buffers (BatchNorm running stats are not counted)."""
    return sum(p.numel() for p in module.parameters())


def check_input(x: torch.Tensor, name: str, channels: int, size: int | None = None) -> None:
    """A shape check at the top of forward: (N, C, H, W) with the expected C (and H = W = size)."""
    if x.dim() != 4 or x.shape[1] != channels or (size is not None and tuple(x.shape[2:]) != (size, size)):
        want = f"(N, {channels}, {size}, {size})" if size else f"(N, {channels}, H, W)"
        raise ValueError(f"{name} expects input of shape {want}, got {tuple(x.shape)}")


def check_latent(z: torch.Tensor, latent_dim: int) -> None:
    """The shape check at the top of every generator's forward: z is (N, latent_dim)."""
    if z.dim() != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"generator expects z of shape (N, {latent_dim}), got {tuple(z.shape)}")


@torch.no_grad()
def standing_batchnorm_stats(net: nn.Module, make_input, batches: int = 8) -> None:
    """Recompute BatchNorm running statistics as the exact average over ``batches`` fresh batches.

    A generator trained with batch statistics drifts faster than the momentum-0.1 running averages
    follow, so eval-mode samples come out washed-out; BigGAN (Brock et al. 2019, appendix C.1)
    "standing statistics" fix that. ``make_input(i)`` returns the i-th input batch (or a tuple of
    the network's arguments).
    """
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not bns:
        return
    was_training = net.training
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: the exact mean over the batches seen
    net.train()
    for i in range(batches):
        x = make_input(i)
        net(*x) if isinstance(x, tuple) else net(x)
    for m, mom in zip(bns, saved):
        m.momentum = mom
    net.train(was_training)


class EMA:
    """Exponential moving average of a network's weights (used for sampling, as in ProGAN/StyleGAN).

    ``decay`` ramps up as min(decay, (1 + t) / (10 + t)) so that early averages are not dominated by
    the random initialisation. Buffers (BatchNorm statistics) are copied, not averaged.
    """

    def __init__(self, net: nn.Module, decay: float) -> None:
        import copy

        self.decay, self.updates = decay, 0
        self.net = copy.deepcopy(net).requires_grad_(False)

    @torch.no_grad()
    def update(self, net: nn.Module, decay: float | None = None) -> None:
        """One averaging step; ``decay`` given: that decay this step (a recipe's own schedule), else the ramp."""
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates)) if decay is None else decay
        ema_p = [p for p in self.net.parameters()]
        torch._foreach_lerp_(ema_p, [p.detach() for p in net.parameters()], 1.0 - d)
        for b_ema, b in zip(self.net.buffers(), net.buffers()):
            b_ema.copy_(b)

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.updates = int(state["updates"])


# --------------------------------------------------------------------------------------------------
# Stand-alone inference networks (``ganforge export``, ``Recipe.export_net``)


def frozen_copy(net: nn.Module, per_image_norm: bool = False) -> nn.Module:
    """A copy of ``net`` as inference runs it: eval mode (dropout off, BatchNorm on its running statistics), no
    gradients, contiguous memory; ``per_image_norm``: each BatchNorm normalises with the statistics of each image
    instead (what pix2pix and CycleGAN do at test time with batch 1), as an InstanceNorm with BatchNorm's affine
    weights, so that exported graphs carry no training-mode layer."""
    import copy

    net = copy.deepcopy(net).to(memory_format=torch.contiguous_format)
    if per_image_norm:
        _batchnorm_to_instancenorm(net)
    return net.eval().requires_grad_(False)


def _batchnorm_to_instancenorm(net: nn.Module) -> None:
    for name, m in list(net.named_children()):
        if isinstance(m, nn.BatchNorm2d):
            inorm = nn.InstanceNorm2d(m.num_features, eps=m.eps, affine=m.affine, track_running_stats=False)
            if m.affine:
                inorm.weight, inorm.bias = m.weight, m.bias
            setattr(net, name, inorm)
        else:
            _batchnorm_to_instancenorm(m)


class ExportGenerator(nn.Module):
    """``z`` (N, latent_dim) -> ``image`` (N, C, H, W) in [-1, 1] (or points (N, 2), not clamped)."""

    def __init__(self, net: nn.Module, clamp: bool = True) -> None:
        super().__init__()
        self.net, self.clamp = net, clamp

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.net(z, None)
        return x.clamp(-1, 1) if self.clamp else x


class ExportConditionalGenerator(nn.Module):
    """``z`` (N, latent_dim), ``label`` (N,) int64 -> ``image`` (N, C, H, W) in [-1, 1]."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return self.net(z, label).clamp(-1, 1)


class ExportTranslator(nn.Module):
    """``image`` (N, C_in, H, W) in [-1, 1] -> ``image`` (N, C_out, H, W) in [-1, 1]."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image).clamp(-1, 1)


# --------------------------------------------------------------------------------------------------
# Pieces the GAN family's discriminators and generators share (conditioning, packing, tricks)


def one_hot(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """(N,) int64 labels -> (N, K) float one-hot vectors."""
    if y is None:
        raise ValueError("this network is class-conditional: pass labels y")
    return torch.nn.functional.one_hot(y.long(), n_classes).float()


def with_labels(x: torch.Tensor, y: torch.Tensor | None, n_classes: int) -> torch.Tensor:
    """Condition an input on labels by concatenation (Mirza & Osindero 2014): a vector (N, F) gets the
    one-hot label appended, (N, F + K); an image (N, C, H, W) gets K constant label maps, (N, C + K, H, W).
    A one-hot vector followed by a linear layer is a learned label embedding."""
    if not n_classes:
        return x
    h = one_hot(y, n_classes).to(x.dtype)
    if x.dim() == 4:
        h = h[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
    return torch.cat([x, h], 1)


CONDITIONS = ("concat", "projection")


def check_condition(condition: str, n_classes: int, packing: int, aux_classes: int) -> None:
    if condition not in CONDITIONS:
        raise ValueError(f"condition {condition!r}; choices: {', '.join(CONDITIONS)}")
    if (condition == "projection" or aux_classes) and packing > 1:
        raise ValueError("a projection or AC-GAN head reads one sample's features: it needs packing 1")
    if condition == "projection" and not n_classes:
        raise ValueError("a projection discriminator needs n_classes > 0")


class ClassHeads(nn.Module):
    """What a conditional discriminator adds at its end, on the features ``h`` that its last layer reads:

    * ``projection`` (Miyato & Koyama 2018, eq. 3): the logit gains <embed(y), h>, a learned inner product of the
      class embedding with the features (instead of feeding the label in with the image);
    * ``aux_classes`` (AC-GAN, Odena et al. 2017): a linear classifier of ``h`` whose class logits the recipe
      trains with cross-entropy.
    Both read the flattened features; the embedding starts at zero (the projection term starts silent)."""

    def __init__(self, features: int, n_classes: int, projection: bool, aux_classes: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_classes, features) if projection else None
        if self.embed is not None:
            nn.init.zeros_(self.embed.weight)
        self.aux = nn.Linear(features, aux_classes) if aux_classes else None

    def forward(self, h: torch.Tensor, logits: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        flat = h.flatten(1)  # (N, F)
        if self.embed is not None:
            if y is None:
                raise ValueError("a projection discriminator needs the labels y")
            logits = logits + (self.embed(y) * flat).sum(1)
        return logits, (self.aux(flat) if self.aux is not None else None)


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN (Lin et al. 2018): m consecutive samples become one input, (N, C, ...) -> (N/m, m*C, ...)."""
    if m == 1:
        return x
    if x.shape[0] % m:
        raise ValueError(f"packing {m} does not divide the batch of {x.shape[0]}")
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


class MinibatchStd(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018, ProGAN, section 3): the std of each feature over
    a group of samples, averaged into one number per group and appended as one more feature (map)."""

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        g = min(self.group_size, n)
        while n % g:  # the largest group size <= group_size that divides the batch
            g -= 1
        y = x.reshape(g, n // g, *x.shape[1:])  # (G, M, C, ...): sample i is in group i % M
        std = (y.var(0, unbiased=False) + 1e-8).sqrt()  # (M, C, ...)
        s = std.flatten(1).mean(1)  # (M,)
        s = s.repeat(g)  # back to (N,), matching the grouping above
        shape = (n, 1, *x.shape[2:])
        return torch.cat([x, s.view(n, *([1] * (x.dim() - 1))).expand(shape)], 1)


def spectral_normalize(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) of every conv and linear weight, one power iteration
    per forward, through torch's parametrization."""
    from torch.nn.utils.parametrizations import spectral_norm

    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            spectral_norm(m)
    return module


def norm_2d(kind: str, channels: int) -> nn.Module:
    """The normalisation of a discriminator block: batch, layer (over C, H, W with a per-channel affine,
    the WGAN-GP critic's choice: GroupNorm with one group) or none."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choices: batch, layer, none")

