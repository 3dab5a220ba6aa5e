"""pix2pix (Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks").

G is a U-Net from input x to output y; D is a conditional PatchGAN that scores (x, y) pairs, concatenated
along channels, patch by patch. The objective is eq. (4) of the paper:

    G* = arg min_G max_D  L_cGAN(G, D) + lambda_L1 * E[ ||y - G(x)||_1 ],   lambda_L1 = 100

One training step, as the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix) does it:
  1. fake = G(x)
  2. D step on real pairs (x, y) and fake pairs (x, fake.detach()); the D loss is halved ("we divide the
     objective by 2 while optimizing D, which slows down the rate at which D learns relative to G");
  3. G step on lambda_gan * g_loss(D(x, fake)) + lambda_L1 * |fake - y|_1, with D frozen.
The loss on patch logits is averaged over patches. Noise z is dropout (0.5) in the U-Net's decoder, kept on
at test time by default as in the paper; norm layers then use the statistics of each test image (the
reference's test.py runs batch 1 in train mode), so outputs never depend on their batch mates.
Learning rate: constant, then linear decay to 0 over the last half (``optim.decay`` 0.5: 100 of the paper's 200
epochs; ``optim.decay_epochs`` sets a number instead), the reference's 'linear' policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config
from ..errors import GanforgeError
from ..nets.layers import ExportTranslator, frozen_copy
from ..nets.patchgan import PatchGAN, receptive_field
from ..nets.unet import UNET_DEPTHS, UNetGenerator
from ..losses import LOSSES
from ..augment import COLOR_ONLY, AugmentOptions, Augmenter
from ..augment import check_options as check_augment
from .base import PRESETS, RECIPES, DataInfo, Preset, Recipe, linear_decay


@dataclass(frozen=True)
class Pix2PixConfig(AugmentOptions):
    """pix2pix's own settings (the paper's and the reference's defaults); augmentation: colour only."""

    generator: Literal["unet_32", "unet_64", "unet_128", "unet_256"] = "unet_256"  # U-Net depth by input size
    g_width: int = 64  # ngf: channels of the U-Net's first layer
    d_width: int = 64  # ndf: channels of the PatchGAN's first layer
    d_layers: int = 3  # PatchGAN depth: 0 = 1x1 PixelGAN, 1 = 16x16, 2 = 34x34, 3 = 70x70, 5 = 286x286 patches
    norm: Literal["batch", "instance"] = "batch"  # in G and D
    loss: str = "nonsaturating"  # cGAN loss on patch logits: nonsaturating (the paper's BCE), lsgan, hinge, minimax
    lambda_gan: float = 1.0  # weight of the cGAN term in G's loss; 0 = L1 only (no discriminator is built)
    lambda_l1: float = 100.0  # weight of the L1 term; 0 = cGAN only (the seed's ablation)
    dropout: float = 0.5  # in the U-Net decoder: the paper's noise z
    test_dropout: bool = True  # dropout stays on at test time (the paper); false: deterministic outputs
    test_norm: Literal["image", "running"] = "image"  # test-time norm statistics: each image's own (the
    # reference's test.py: batch 1, train mode) or BatchNorm's running averages (eval mode)
    augment_ops: str = "color"  # D's input pairs change colour alike; translation and cutout are not offered here


# The paper's setup (pix2pix and CycleGAN alike) under every preset: 286 -> random 256 crop + flip, Adam 2e-4
# (0.5, 0.999), batch 1, 200 epochs of which the last 100 decay the lr linearly to 0.
PAPER_DEFAULTS: dict[str, Any] = {
    "data": {"image_size": 256, "load_size": 286, "resize": "stretch", "crop": "random", "flip": True},
    "optim": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "decay": 0.5},
    "train": {"batch_size": 1, "epochs": 200, "n_samples": 6, "log_every": 100},
}


def check_translation_options(cfg: Config) -> None:
    """The settings pix2pix and CycleGAN share: a loss that needs no Lipschitz constraint, widths, PatchGAN depth,
    dropout."""
    m = cfg.model
    if m.loss not in LOSSES or LOSSES.get(m.loss).needs_lipschitz:
        ok = [n for n in LOSSES.names() if not LOSSES.get(n).needs_lipschitz]
        raise GanforgeError(f"model.loss {m.loss!r} is not available for {cfg.recipe}; choices: {', '.join(ok)}")
    for k in ("g_width", "d_width"):
        if getattr(m, k) < 1:
            raise GanforgeError(f"config key model.{k} must be >= 1; got {getattr(m, k)}")
    check_augment(m, COLOR_ONLY)
    if not 0 <= m.d_layers <= 6:
        raise GanforgeError(f"config key model.d_layers must be 0..6 (0 = 1x1 PixelGAN, 3 = 70x70); got {m.d_layers}")
    if not 0 <= m.dropout < 1:
        raise GanforgeError(f"config key model.dropout must be in [0, 1); got {m.dropout}")


@contextmanager
def at_test_time(net: nn.Module, dropout: bool, norm: str) -> Iterator[None]:
    """``net`` in eval mode, except: dropout on (``dropout``) and BatchNorm on each batch's own statistics
    without touching the running averages (``norm == "image"``)."""
    was = net.training
    net.eval()
    changed: list[nn.Module] = []
    for m in net.modules():
        if dropout and isinstance(m, nn.Dropout):
            m.train()
        if norm == "image" and isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            m.train()
            m.track_running_stats = False  # in train mode: batch statistics, running buffers neither used nor updated
            changed.append(m)
    try:
        yield
    finally:
        for m in changed:
            m.track_running_stats = True
        net.train(was)


@RECIPES.register("pix2pix")
class Pix2Pix(Recipe):
    name = "pix2pix"
    # Isola et al.: U-Net-256, 70x70 PatchGAN, 286 -> 256 crops, batch 1 | U-Net-64 of width 16 at 64x64, batch 4
    bench_configs = {"paper": ("pix2pix-facades", {}),
                     "small": ("pix2pix-facades", {"model": {"generator": "unet_64", "g_width": 16, "d_width": 16},
                                                   "data": {"image_size": 64, "load_size": 72},
                                                   "train": {"batch_size": 4}})}
    config_cls = Pix2PixConfig
    data_kind: ClassVar[str] = "pairs"
    translates: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = PAPER_DEFAULTS

    @classmethod
    def validate(cls, cfg: Config) -> None:
        m, d = cfg.model, cfg.data
        depth = UNET_DEPTHS[m.generator]
        if d.image_size % 2**depth:
            fits = [n for n, k in UNET_DEPTHS.items() if d.image_size % 2**k == 0]
            raise GanforgeError(f"model.generator={m.generator} downsamples {depth} times and needs data.image_size a "
                                f"multiple of {2**depth}; got {d.image_size}; "
                                + (f"use model.generator={fits[-1]}" if fits else "use a crop size that is a multiple of 32"))
        check_translation_options(cfg)
        if m.lambda_gan < 0 or m.lambda_l1 < 0 or m.lambda_gan == m.lambda_l1 == 0:
            raise GanforgeError(f"model.lambda_gan ({m.lambda_gan}) and model.lambda_l1 ({m.lambda_l1}) must be >= 0 "
                                f"and not both 0")

    def __init__(self, cfg: Config, data: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, data, device)
        m, o = cfg.model, cfg.optim
        self.in_channels = data.input_channels or data.channels
        self.loss = LOSSES.get(m.loss)
        self.g = self.prepare(UNetGenerator(self.in_channels, data.channels, UNET_DEPTHS[m.generator], m.g_width,
                                            m.norm, m.dropout))
        self.adam("g", self.g.parameters(), o.lr)
        self.nets = {"g": self.g}
        self.d: nn.Module | None = None
        if m.lambda_gan > 0:  # the conditional D sees input and output side by side (channels concatenated)
            self.d = self.prepare(PatchGAN(self.in_channels + data.channels, m.d_width, m.d_layers, m.norm))
            self.adam("d", self.d.parameters(), o.resolved_lr_d)
            self.nets["d"] = self.d
        self.schedulers = linear_decay(self.optimizers, cfg)
        self.augment = Augmenter(m, self.rand, cfg.train.batch_size, COLOR_ONLY)  # D(T(a, b)): pairs alike

    @property
    def patch_size(self) -> int:
        return receptive_field(self.cfg.model.d_layers)

    @property
    def directions(self) -> tuple[str, ...]:
        """What ``translate`` can do: one direction, the one trained."""
        return (self.cfg.data.direction,)

    def input_channels(self, direction: str) -> int:
        return self.in_channels

    @property
    def size_multiple(self) -> int:
        """Input sides must be multiples of this (one halving per U-Net level)."""
        return 2 ** UNET_DEPTHS[self.cfg.model.generator]

    def train_step(self, batch: Any) -> dict[str, torch.Tensor]:
        m = self.cfg.model
        real_a, real_b = batch.image, batch.target
        with self.amp():
            fake_b = self.g(real_a)
        out: dict[str, torch.Tensor] = {}
        loss_g = torch.zeros((), device=real_a.device)
        if self.d is not None:
            # D: real pairs against fake pairs; the fake is detached so that G gets no gradient here
            with self.amp():
                fake_logits = self.d(self.augment.pair(real_a, fake_b.detach().to(real_a.dtype)))
                real_logits = self.d(self.augment.pair(real_a, real_b))
            ref = self.loss.reference_scale  # lsgan: plain MSE, as the reference
            loss_d = 0.5 * ref * self.loss.d(real_logits, fake_logits)
            self.update("d", loss_d)
            if self.augment.on:
                self.augment.observe(real_logits)
                out["augment_p"] = torch.tensor(self.augment.p)
            # G against the updated D, whose weights get no gradient from G's loss
            self.d.requires_grad_(False)
            with self.amp():
                loss_g_gan = ref * self.loss.g(self.d(self.augment.pair(real_a, fake_b.to(real_a.dtype))))
            self.d.requires_grad_(True)
            loss_g = loss_g + m.lambda_gan * loss_g_gan
            out.update(loss_d=loss_d.detach(), loss_g_gan=loss_g_gan.detach(), d_real=self.loss.score(real_logits.detach()),
                       d_fake=self.loss.score(fake_logits.detach()))
        loss_l1 = F.l1_loss(fake_b.float(), real_b)
        loss_g = loss_g + m.lambda_l1 * loss_l1
        self.update("g", loss_g)
        # loss_g_l1 is logged weighted (as G minimises it); l1 is the plain mean |fake - y| on the [-1, 1] scale
        out.update(loss_g=loss_g.detach(), loss_g_l1=(m.lambda_l1 * loss_l1).detach(), l1=loss_l1.detach())
        return out

    # ---------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def translate(self, x: torch.Tensor, direction: str | None = None, batch_size: int = 16) -> torch.Tensor:
        """Inputs (N, C_in, H, W) in [-1, 1] -> outputs, with the test-time dropout and norm settings.

        With per-image norm statistics the images go through one at a time (the reference's batch 1)."""
        m = self.cfg.model
        step = 1 if m.test_norm == "image" and m.norm == "batch" else batch_size
        with at_test_time(self.g, m.test_dropout, m.test_norm):
            return torch.cat([self.g(x[i : i + step].to(self.device)) for i in range(0, len(x), step)])

    def generate(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.translate(inputs["input"])

    sampling_nets = ("g",)

    def export_net(self, direction: str | None = None) -> nn.Module:
        """G with dropout off (an export is deterministic; ``translate`` keeps the paper's test-time dropout
        unless model.test_dropout=false) and the test-time norm of model.test_norm."""
        m = self.cfg.model
        return ExportTranslator(frozen_copy(self.g, per_image_norm=m.test_norm == "image" and m.norm == "batch"))

    def preview(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """input | output | target triptychs, one per grid row (a gray input is shown as RGB)."""
        x, y = inputs["input"].to(self.device), inputs["target"].to(self.device)
        fake = self.translate(x)
        if x.shape[1] != y.shape[1]:
            x = x.expand(-1, y.shape[1], -1, -1)
        return torch.stack([x, fake, y], 1).flatten(0, 1)

    def evaluate(self, batches: Iterable[Any]) -> dict[str, float]:
        """Validation L1, PSNR and SSIM of outputs against targets ([0, 1] scale), and the PSNR of the inputs
        themselves against the targets when they have the same channels (what "no translation" scores)."""
        from ..metrics.paired import paired_scores

        sums: dict[str, float] = {}
        n = 0
        for b in batches:
            scores = paired_scores(self.translate(b.image), b.target)
            if b.image.shape == b.target.shape:
                scores["psnr_input"] = paired_scores(b.image, b.target)["psnr"]
            for k, v in scores.items():
                sums[k] = sums.get(k, 0.0) + float(v.sum())
            n += len(b.image)
        return {f"val_{k}": v / n for k, v in sums.items()} if n else {}


# --------------------------------------------------------------------------------------------------
# Presets


def _pix2pix(source: str, direction: str, batch: int = 1, **model: Any) -> dict[str, Any]:
    # The paper's setup (the recipe's defaults add 286 -> 256 random crop + flip, Adam 2e-4 (0.5, 0.999), 200
    # epochs of which the last 100 decay linearly): U-Net 256, 70x70 PatchGAN, BatchNorm, L1 weight 100.
    return {
        "recipe": "pix2pix",
        "model": {"generator": "unet_256", "d_layers": 3, "norm": "batch", "lambda_gan": 1.0, "lambda_l1": 100.0,
                  **model},
        "data": {"source": source, "direction": direction},
        "train": {"batch_size": batch},
    }


for _name, _preset in {
    "pix2pix-facades": Preset("pix2pix (Isola et al.) on facades, labels -> photo (BtoA), 256x256, batch 1, 200 epochs "
                              "(data: `ganforge data fetch facades` or --data PATH of A|B pairs)",
                              _pix2pix("facades", "BtoA")),
    "pix2pix-facades-no-l1": Preset("the seed's ablation: pix2pix-facades without the L1 term (lambda_l1 = 0)",
                                    _pix2pix("facades", "BtoA", lambda_l1=0.0)),
    "pix2pix-l1-only": Preset("pix2pix-facades with the L1 term only (no discriminator, lambda_gan = 0)",
                              _pix2pix("facades", "BtoA", lambda_gan=0.0)),
    "pix2pix-cityscapes": Preset("pix2pix on cityscapes, labels -> photo (BtoA), batch 32 as the seed, 200 epochs",
                                 _pix2pix("cityscapes", "BtoA", batch=32)),
    "pix2pix-colorize": Preset("pix2pix colouring: any image folder, grayscale -> colour (A = gray of B), 256x256",
                               {**_pix2pix("", "AtoB"), "data": {"source": "", "direction": "AtoB", "pairs": "colorize",
                                                                  "input_channels": 1}}, needs_data=True),
}.items():
    PRESETS.add(_name, _preset)
