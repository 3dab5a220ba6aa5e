"""Differentiable augmentation of everything D sees, for small data sets.

* ``diffaug``: DiffAugment (Zhao, Liu, Lin, Zhu, Han, NeurIPS 2020; mit-han-lab/data-efficient-gans,
  ``DiffAugment_pytorch.py``): every image D judges, real or generated, in the D and the G step, goes through the
  same random family of transforms T, so D(T(x)) is what both players see and gradients flow through T to G. The
  ops and their ranges are the reference's: ``color`` (brightness + U(-0.5, 0.5), saturation x U(0, 2) around the
  pixel's channel mean, contrast x U(0.5, 1.5) around the image mean), ``translation`` (a whole-pixel shift of up to
  1/8 of the side, zero padding), ``cutout`` (a zeroed square of half the side at a random centre).
* ``ada``: the same ops, each applied to an image with probability p, and p steered as StyleGAN2-ADA does (Karras
  et al. 2020, section 3): r_t = E[sign(D(real))] over the last ``interval`` steps; p moves by
  sign(r_t - target) x (batch x interval) / ``ada_images`` (so p can go from 0 to 1 within ``ada_images`` images,
  500k in the paper), clamped to [0, 1]. (ADA's own pipeline has 18 transforms; ganforge's ``ada`` steers the
  three DiffAugment families above, which cover its colour, translation and cutout groups.)

Each op draws its random numbers through the ``rand(n, *shape)`` it is given (a recipe's noise generator: seeded,
the same on every torchrun rank, in the checkpoint), so the same draws give the same transform, and the whole batch
is transformed at once on its device: no per-image Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .errors import GanforgeError

Rand = Callable[..., torch.Tensor]  # rand(n, *shape) -> uniform [0, 1) of shape (n, *shape)
OPS = ("color", "translation", "cutout")
COLOR_ONLY = ("color",)  # pix2pix and CycleGAN: the DiffAugment authors found translation and cutout hurt translation
MODES = ("none", "diffaug", "ada")


def brightness(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    return x + (u.view(-1, 1, 1, 1) - 0.5)  # + U(-0.5, 0.5)


def saturation(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)  # (N, 1, H, W): the grey of each pixel
    return (x - mean) * (2 * u.view(-1, 1, 1, 1)) + mean  # x U(0, 2)


def contrast(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (N, 1, 1, 1)
    return (x - mean) * (u.view(-1, 1, 1, 1) + 0.5) + mean  # x U(0.5, 1.5)


def translation(x: torch.Tensor, u: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by whole pixels, up to ratio x its side each way (u: (N, 2) uniforms), zeros moving in."""
    n, c, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = (u[:, 0] * (2 * sh + 1)).long().clamp(max=2 * sh) - sh  # (N,) integers in [-sh, sh], uniform
    dx = (u[:, 1] * (2 * sw + 1)).long().clamp(max=2 * sw) - sw
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))  # (N, C, H + 2, W + 2): the border of zeros
    rows = (torch.arange(h, device=x.device).view(1, h) + dy.view(n, 1) + 1).clamp(0, h + 1)  # (N, H)
    cols = (torch.arange(w, device=x.device).view(1, w) + dx.view(n, 1) + 1).clamp(0, w + 1)  # (N, W)
    out = padded.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, w + 2))  # (N, C, H, W + 2)
    return out.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w))  # (N, C, H, W)


def cutout(x: torch.Tensor, u: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of ratio x the side centred at a random pixel (u: (N, 2) uniforms), clipped at the border."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = (u[:, 0] * (h + 1 - ch % 2)).long().view(n, 1, 1)  # the reference's offsets: [0, H + (1 - size % 2))
    cx = (u[:, 1] * (w + 1 - cw % 2)).long().view(n, 1, 1)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((ys - (cy - ch // 2)) >= 0) & ((ys - (cy - ch // 2)) < ch) & \
        ((xs - (cx - cw // 2)) >= 0) & ((xs - (cx - cw // 2)) < cw)  # (N, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def apply(x: torch.Tensor, ops: tuple[str, ...], rand: Rand, p: float = 1.0) -> torch.Tensor:
    """T(x): the ops in order, each on every image (p = 1, DiffAugment) or on each image with probability p (ADA)."""
    return apply_all((x,), ops, rand, p)[0]


def apply_all(xs: tuple[torch.Tensor, ...], ops: tuple[str, ...], rand: Rand, p: float = 1.0) -> tuple[torch.Tensor, ...]:
    """The same transform, from the same draws, on each of several batches of N images (pix2pix: the input and the
    output of a pair change alike)."""
    n = xs[0].shape[0]
    steps: list[tuple[Callable[..., torch.Tensor], int]] = []
    for op in ops:
        if op == "color":
            steps += [(brightness, 1), (saturation, 1), (contrast, 1)]
        elif op == "translation":
            steps.append((translation, 2))
        elif op == "cutout":
            steps.append((cutout, 2))
    out = list(xs)
    for fn, k in steps:
        u = rand(n, k)
        u = u[:, 0] if k == 1 else u  # the colour ops take one number per image, the others a pair
        keep = (rand(n) >= p).view(n, 1, 1, 1) if p < 1.0 else None  # (N, 1, 1, 1): this image skips the op
        for i, x in enumerate(out):
            y = fn(x, u.to(x.device, x.dtype))
            out[i] = torch.where(keep.to(x.device), x, y) if keep is not None else y
    return tuple(out)


def parse_ops(text: str | tuple[str, ...], allowed: tuple[str, ...] = OPS, key: str = "model.augment_ops") -> tuple[str, ...]:
    ops = tuple(o.strip() for o in (text.split(",") if isinstance(text, str) else text) if o.strip())
    bad = [o for o in ops if o not in allowed]
    if bad or not ops:
        raise GanforgeError(f"config key {key} {','.join(ops) or repr(text)}: "
                            f"{'unknown ' + ', '.join(bad) if bad else 'empty'}; choices: {', '.join(allowed)}")
    return ops


@dataclass(frozen=True)
class AugmentOptions:
    """Augmentation settings of a recipe's ``model`` section."""

    augment: str = "none"  # none | diffaug (DiffAugment, every image) | ada (each op with the adaptive p)
    augment_ops: str = "color,translation,cutout"  # DiffAugment's policy
    ada_target: float = 0.6  # ADA: the r_t that p steers D towards
    ada_images: int = 500_000  # ADA: images over which p can move from 0 to 1
    ada_interval: int = 4  # ADA: steps between adjustments of p


def check_options(m: AugmentOptions, allowed: tuple[str, ...] = OPS) -> None:
    if m.augment not in MODES:
        raise GanforgeError(f"config key model.augment must be one of {', '.join(MODES)}; got {m.augment!r}")
    parse_ops(m.augment_ops, allowed)
    if not 0 < m.ada_target < 1:
        raise GanforgeError(f"config key model.ada_target must be in (0, 1); got {m.ada_target}")
    if m.ada_images < 1 or m.ada_interval < 1:
        raise GanforgeError(f"config keys model.ada_images and model.ada_interval must be >= 1; got "
                            f"{m.ada_images}, {m.ada_interval}")


class Augmenter:
    """What a recipe holds: ``augment(x)`` for every image D sees, and, for ``ada``, ``observe(real_logits)`` after
    each D step, which steers p. ``p`` and the pending sign statistics are state (``state_dict``)."""

    def __init__(self, m: AugmentOptions, rand: Rand, batch: int, allowed: tuple[str, ...] = OPS) -> None:
        check_options(m, allowed)
        self.mode, self.ops, self.rand, self.batch = m.augment, parse_ops(m.augment_ops, allowed), rand, batch
        self.target, self.images, self.interval = m.ada_target, m.ada_images, m.ada_interval
        self.p = 1.0 if self.mode == "diffaug" else 0.0
        self.signs, self.seen = 0.0, 0  # sum of E[sign(D(real))] over the steps since the last adjustment

    @property
    def on(self) -> bool:
        return self.mode != "none"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "none" or self.p <= 0:
            return x
        return apply(x, self.ops, self.rand, self.p)

    def pair(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """What a conditional D of pix2pix sees: input and output side by side, changed alike (channels joined)."""
        if self.mode == "none" or self.p <= 0:
            return torch.cat([a, b], 1)
        return torch.cat(apply_all((a, b), self.ops, self.rand, self.p), 1)

    def observe(self, real_logits: torch.Tensor) -> None:
        if self.mode != "ada":
            return
        self.signs += float(real_logits.detach().float().sign().mean())
        self.seen += 1
        if self.seen >= self.interval:
            r_t = self.signs / self.seen
            sign = (r_t > self.target) - (r_t < self.target)  # ADA: np.sign(r_t - target)
            step = sign * self.batch * self.seen / self.images
            self.p = min(1.0, max(0.0, self.p + step))
            self.signs, self.seen = 0.0, 0

    def state_dict(self) -> dict[str, float]:
        return {"p": self.p, "signs": self.signs, "seen": self.seen}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.p, self.signs, self.seen = float(state["p"]), float(state["signs"]), int(state["seen"])
