"""R3GAN (Huang, Gokaslan, Kuleshov, Tompkin, "The GAN is dead; long live the GAN! A Modern Baseline GAN",
NeurIPS 2024; brownvc/R3GAN): the relativistic pairing loss with R1 and R2 (section 2) on the paper's residual
networks (``nets/r3gan.py``, section 3), trained as the reference's ``training_loop.py`` does:

  1. D step: fake = G(z, c) detached; D minimises E[softplus(-(D(x) - D(fake)))] + gamma/2 (R1 + R2), the
     penalties E||grad D||^2 on the real and on the generated images (``losses.py``);
  2. G step on fresh z: G minimises E[softplus(-(D(G(z)) - D(x)))] (the real logits through the updated D);
  3. the EMA of G with a half-life of ``ema_images`` images (beta = 0.5 ** (batch / half-life)).
Adam with beta1 = 0. The learning rate, Adam's beta2, gamma and the EMA half-life follow the reference's cosine
schedules (``cosine_decay_with_warmup`` without warm-up) over ``schedule_images`` images: lr 2e-4 -> 5e-5, beta2
0.9 -> 0.99, gamma and the half-life as the preset says (CIFAR-10: gamma 0.05 -> 0.005, half-life 0 -> 5M images
over 20M images). Every value is a function of the images seen, which the checkpoint holds: resume is exact.
One difference: the reference draws another real batch for the G step; here both steps read the step's batch.
``model.reg_every`` = k > 1 (the CPU presets: 4) applies R1 + R2 every k-th D step with weight k (StyleGAN2's lazy
regularisation, folded into that step's update); the reference regularises every step (k = 1, the default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..augment import AugmentOptions
from ..augment import check_options as check_augment
from ..config import Config
from ..errors import GanforgeError
from ..losses import d_loss_rpgan, g_loss_rpgan, r1_penalty, r2_penalty
from ..nets.r3gan import R3GANDiscriminator, R3GANGenerator, n_stages, stage_config
from .base import PRESETS, RECIPES, DataInfo, Preset
from .gan import GAN


@dataclass(frozen=True)
class R3GANConfig(AugmentOptions):
    latent_dim: int = 64  # NoiseDimension
    widths: tuple[int, ...] = ()  # per stage from 4x4 up (D takes them reversed); () = 768 each (the CIFAR-10 preset)
    d_widths: tuple[int, ...] = ()  # D's own widths per stage from 4x4 up; () = widths (the paper: one list for both)
    blocks: tuple[int, ...] = ()  # residual blocks per stage; () = 2 each
    group_width: int = 16  # channels per group of the grouped 3x3 conv (CIFAR-10: 1536 / 96 groups)
    expansion: int = 2  # the inverted bottleneck's width factor
    gamma: float = 0.05  # weight of R1 + R2 (times 1/2) at the start ...
    gamma_final: float = 0.005  # ... and at the end of the schedule
    reg_every: int = 1  # R1 + R2 every k-th D step, weighted k times (StyleGAN2's lazy regularisation); 1 = the paper
    lr_final: float = 5e-5  # the lr falls from optim.lr to this (cosine)
    beta2_final: float = 0.99  # Adam's beta2 rises from optim.beta2 to this (cosine)
    ema_images: int = 5_000_000  # the EMA half-life at the end of the schedule, in images (from 0); 0 = no EMA
    schedule_images: int = 0  # images over which the schedules run; 0 = the whole run (the reference: 20M)
    conditional: bool = True  # use the data's labels when it has them (class embedding in G, projection in D)
    minibatch_std: bool = False  # D: the 4x4 features' std over groups of 4 samples as one more channel (not the paper)


def cosine(images: float, start: float, end: float, total: float) -> float:
    """The reference's ``cosine_decay_with_warmup`` without warm-up: start -> end along half a cosine over ``total``
    images, then ``end``."""
    if total <= 0 or images >= total:
        return end
    return start + (1 - 0.5 * (1 + math.cos(math.pi * images / total))) * (end - start)


@RECIPES.register("r3gan")
class R3GAN(GAN):
    """R3GAN: RpGAN + R1 + R2 on the paper's residual networks; conditional when the data has labels."""

    name = "r3gan"
    bench_configs = {"paper": ("r3gan-cifar10-paper", {}), "small": ("r3gan-cifar10", {"train": {"batch_size": 16}})}
    config_cls = R3GANConfig
    defaults: ClassVar[dict[str, Any]] = {"optim": {"lr": 2e-4, "beta1": 0.0, "beta2": 0.9}}

    @classmethod
    def validate(cls, cfg: Config) -> None:
        m = cfg.model
        check_augment(m)
        n_stages(cfg.data.image_size)
        stage_config(cfg.data.image_size, m.widths or None, m.blocks or None, m.group_width, m.expansion)
        if m.d_widths:
            stage_config(cfg.data.image_size, m.d_widths, m.blocks or None, m.group_width, m.expansion, "d_widths")
        for k in ("gamma", "gamma_final", "lr_final", "ema_images", "schedule_images"):
            if getattr(m, k) < 0:
                raise GanforgeError(f"config key model.{k} must be >= 0; got {getattr(m, k)}")
        if m.reg_every < 1:
            raise GanforgeError(f"config key model.reg_every must be >= 1 (1 = every D step); got {m.reg_every}")
        if not 0 <= m.beta2_final < 1:
            raise GanforgeError(f"config key model.beta2_final must be in [0, 1); got {m.beta2_final}")
        if m.latent_dim < 1:
            raise GanforgeError(f"config key model.latent_dim must be > 0; got {m.latent_dim}")

    def __init__(self, cfg: Config, data: DataInfo, device: torch.device) -> None:  # noqa: D107 - GAN's, without its toolbox
        super(GAN, self).__init__(cfg, data, device)
        self.conditional = bool(data.class_names) and cfg.model.conditional  # labelled data, unless told not to
        self.n_classes = len(data.class_names) if self.conditional else 0
        self._build_pair(1.0 if cfg.model.ema_images else 0.0)  # the EMA's decay follows the half-life schedule

    def build_nets(self) -> tuple[nn.Module, nn.Module]:
        m, d, k = self.cfg.model, self.data, self.n_classes
        shape = dict(widths=m.widths or None, blocks=m.blocks or None, group_width=m.group_width,
                     expansion=m.expansion, channels=d.channels, image_size=d.image_size, n_classes=k)
        d_shape = {**shape, "widths": m.d_widths or shape["widths"]}
        return R3GANGenerator(m.latent_dim, **shape), R3GANDiscriminator(**d_shape, minibatch_std=m.minibatch_std)

    def schedule(self) -> dict[str, float]:
        """lr, beta2, gamma and the EMA half-life after the images seen so far."""
        m, o = self.cfg.model, self.cfg.optim
        batch = self.cfg.train.batch_size
        images = self.d_updates * batch
        total = m.schedule_images or self.data.steps * batch
        return {"lr": cosine(images, o.lr, m.lr_final, total), "beta2": cosine(images, o.beta2, m.beta2_final, total),
                "gamma": cosine(images, m.gamma, m.gamma_final, total),
                "ema_images": cosine(images, 0.0, m.ema_images, total)}

    def train_step(self, batch: Any) -> dict[str, torch.Tensor]:
        m = self.cfg.model
        now = self.schedule()
        for name, opt in self.optimizers.items():
            for group in opt.param_groups:
                group["lr"] = now["lr"] * (self.cfg.optim.resolved_lr_d / self.cfg.optim.lr if name == "d" else 1.0)
                group["betas"] = (self.cfg.optim.beta1, now["beta2"])
        real = batch.image
        y = batch.label if self.conditional else None
        n = real.shape[0]
        self.g.train()
        out: dict[str, torch.Tensor] = {}

        # D: relativistic pairing + gamma/2 (R1 + R2); the penalties need input gradients, in fp32 under fp16.
        # With reg_every = k the penalties come every k-th D step with weight k gamma/2 (StyleGAN2's lazy
        # regularisation, in the same update): the double backward is about half of a CPU step.
        reg = self.d_updates % m.reg_every == 0
        with self.amp(enabled=self.precision != "fp16" or not reg):
            with torch.no_grad():
                fake = self.g(self.randn(n, m.latent_dim), y)
            real_in = real.detach().requires_grad_(reg)
            fake_in = fake.detach().requires_grad_(reg)
            real_logits, fake_logits = self.d(self.augment(real_in), y), self.d(self.augment(fake_in), y)
            adv = loss_d = d_loss_rpgan(real_logits, fake_logits)
            if reg:
                r1, r2 = r1_penalty(real_logits, real_in), r2_penalty(fake_logits, fake_in)
                loss_d = adv + 0.5 * now["gamma"] * m.reg_every * (r1 + r2)
                out.update(r1=r1.detach(), r2=r2.detach())
        self.update("d", loss_d)
        self.d_updates += 1
        if self.augment.on:
            self.augment.observe(real_logits)
            out["augment_p"] = torch.tensor(self.augment.p)

        # G on fresh z, against the updated D's verdict on the same real images
        with self.amp():
            fake_g = self.g(self.randn(n, m.latent_dim), y)
            with torch.no_grad():
                real_logits_g = self.d(self.augment(real), y)
            loss_g = g_loss_rpgan(real_logits_g, self.d(self.augment(fake_g), y))
        self.update("g", loss_g)
        if self.ema is not None:
            self.ema.update(self.g, 0.5 ** (n * self.world.size / max(now["ema_images"], 1e-8)))
        out.update(loss_d=loss_d.detach(), loss_d_adv=adv.detach(), loss_g=loss_g.detach(),
                   d_real=real_logits.detach().float().mean(), d_fake=fake_logits.detach().float().mean(),
                   lr=torch.tensor(now["lr"]), gamma=torch.tensor(now["gamma"]))
        return out


# --------------------------------------------------------------------------------------------------
# Presets: small widths that train in minutes on 2 CPU cores at 28-32 px, and the paper's CIFAR-10 configuration


def _r3gan(source: str, size: int, channels: int, epochs: int, batch: int = 16, builtin_n: int = 0,
           **model: Any) -> dict[str, Any]:
    # CPU-sized: widths taper from 128 at 4x4 to 16 at 32x32 (where most of the work is), one block a stage, groups
    # of 8 channels; fp32: the grouped convolutions and their double backward run slower under CPU bf16 autocast
    # (measured 177 img/s in fp32 against 111 in bf16 at batch 64 on 2 CPU cores, `ganforge bench --preset r3gan-mnist`).
    # Batch 16 and lr 1e-3 -> 2.5e-4: at a fixed CPU budget the number of updates counts most. Measured on MNIST,
    # 160 s of training each (FD[classifier], docs/r3gan.md): batch 64 lr 2e-4 286, batch 16 lr 2e-4 214, 5e-4 167,
    # 1e-3 161; wider nets (256-128-64-32) 292 in the same time; gamma 0.5 355, gamma 0.01 214.
    # R1 + R2 every 4th D step (weighted 4x): 2x the images a second (125 -> 240 img/s at batch 16) and, over
    # r3gan-mnist's 2 epochs, FD 16.9 -> 12.6 (docs/r3gan.md).
    return {"recipe": "r3gan",
            "model": {"widths": [128, 64, 32, 16], "blocks": [1, 1, 1, 1], "group_width": 8, "expansion": 2,
                      "gamma": 0.05, "gamma_final": 0.005, "reg_every": 4, "ema_images": 10_000, "lr_final": 2.5e-4,
                      **model},
            "data": {"source": source, "image_size": size, "channels": channels,
                     **({"builtin_n": builtin_n} if builtin_n else {})},
            "optim": {"lr": 1e-3, "beta1": 0.0, "beta2": 0.9},
            "train": {"batch_size": batch, "epochs": epochs, "precision": "fp32"}}


_ALL = {
    "r3gan-mnist": Preset("R3GAN (RpGAN + R1 + R2, residual nets), CPU-sized, on MNIST at 32x32, unconditional, batch "
                          "16, 2 epochs (~9 min on 2 CPU cores)", _r3gan("mnist", 32, 1, 2, conditional=False)),
    # 192,000 images with lazy R1 + R2 and gamma 2 -> 0.2 (the reference's FFHQ-64 values; gamma is set per data set
    # there too): 988 modes, KL 0.39; with the CIFAR-10 gamma 0.05 -> 0.005 its channels drew the same strokes (422
    # modes, KL 2.03); 0.5 -> 0.05: 750, 1.35; 8 -> 0.8: 992, 0.36 (docs/r3gan.md)
    "r3gan-stacked-mnist": Preset("R3GAN, CPU-sized, on StackedMNIST (1,000 modes) at 32x32, batch 16, gamma 2 -> 0.2, 1 "
                                  "epoch of 192,000 images (~16 min on 2 CPU cores); `ganforge evaluate --metrics modes`",
                                  _r3gan("stacked-mnist", 32, 3, 1, builtin_n=192_000, gamma=2.0, gamma_final=0.2)),
    "r3gan-cifar10": Preset("R3GAN, CPU-sized, on CIFAR-10 at 32x32, class-conditional, batch 16, 30 epochs (not yet "
                            "scored)", _r3gan("cifar10", 32, 3, 30)),
    "r3gan-cifar10-paper": Preset(
        "R3GAN's CIFAR-10 configuration (for GPUs): widths 768, 2 blocks a stage, 96 groups, batch 512, the "
        "reference's schedules over 20M images", {
            "recipe": "r3gan",
            "model": {"widths": [768] * 4, "blocks": [2] * 4, "group_width": 16, "expansion": 2, "gamma": 0.05,
                      "gamma_final": 0.005, "ema_images": 5_000_000, "schedule_images": 20_000_000},
            "data": {"source": "cifar10", "image_size": 32, "channels": 3, "flip": True},
            "optim": {"lr": 2e-4, "beta1": 0.0, "beta2": 0.9},
            "train": {"batch_size": 512, "epochs": 2000}}),
}
for _name, _preset in _ALL.items():
    PRESETS.add(_name, _preset)
