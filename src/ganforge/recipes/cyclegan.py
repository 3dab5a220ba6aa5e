"""CycleGAN (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks"): two generators G_AB: A -> B and G_BA: B -> A, two PatchGAN discriminators D_A (real A against
G_BA's fakes) and D_B (real B against G_AB's fakes).

Objective (eq. 3 and section 7.1 of the paper), with least-squares adversarial losses:
    L = L_GAN(G_AB, D_B) + L_GAN(G_BA, D_A)
        + lambda_A |G_BA(G_AB(a)) - a|_1 + lambda_B |G_AB(G_BA(b)) - b|_1                 (cycle, 10 each)
        + lambda_id * (lambda_A |G_BA(a) - a|_1 + lambda_B |G_AB(b) - b|_1)               (identity, 0.5)
One step, as the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix) does it: both generators
in one Adam step with D frozen; then both discriminators in one Adam step, each on real images and on a
fake drawn through a history pool of 50 generated images (Shrivastava et al.), the D loss halved. The
least-squares losses are the reference's plain MSE. Learning rate: constant, then linear decay to 0 over the
last half of the run (``optim.decay`` 0.5, as pix2pix).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config
from ..errors import GanforgeError
from ..nets.layers import ExportTranslator, frozen_copy
from ..nets.patchgan import PatchGAN
from ..nets.resnet import RESNET_BLOCKS, ResnetGenerator
from ..losses import LOSSES
from .base import PRESETS, RECIPES, DataInfo, Preset, Recipe, linear_decay
from ..augment import COLOR_ONLY, AugmentOptions, Augmenter
from .pix2pix import PAPER_DEFAULTS, at_test_time, check_translation_options


@dataclass(frozen=True)
class CycleGANConfig(AugmentOptions):
    """CycleGAN's own settings (the paper's and the reference's defaults); augmentation: colour only."""

    generator: Literal["resnet_9blocks", "resnet_6blocks"] = "resnet_9blocks"  # 9 blocks for 256x256, 6 for 128x128
    g_width: int = 64  # ngf
    d_width: int = 64  # ndf
    d_layers: int = 3  # PatchGAN depth: 3 = 70x70 patches
    norm: Literal["instance", "batch"] = "instance"
    loss: str = "lsgan"  # adversarial loss: lsgan (the paper), nonsaturating, hinge, minimax
    lambda_a: float = 10.0  # cycle A -> B -> A
    lambda_b: float = 10.0  # cycle B -> A -> B
    lambda_identity: float = 0.5  # identity loss, relative to the cycle weights; 0 = off
    pool_size: int = 50  # generated images kept per discriminator; 0 = D sees only the newest fakes
    dropout: float = 0.0  # in the residual blocks (the seed's experiment: 0.2); off at test time
    final: Literal["tanh", "none"] = "tanh"  # the generators' last activation (the seed's tanh experiment)
    augment_ops: str = "color"  # translation and cutout are not offered for translation models


def cycle_terms(g_ab: Callable[[torch.Tensor], torch.Tensor], g_ba: Callable[[torch.Tensor], torch.Tensor],
                real_a: torch.Tensor, real_b: torch.Tensor, fake_a: torch.Tensor, fake_b: torch.Tensor,
                m: CycleGANConfig) -> dict[str, torch.Tensor]:
    """The weighted cycle-consistency terms (a -> b -> a, b -> a -> b) and, when lambda_identity > 0, the identity
    terms (G_BA should leave A images as they are, G_AB B images) of the generators' loss."""
    # (outputs may be half precision under autocast; the L1 means are taken in fp32)
    terms = {"loss_cycle_a": m.lambda_a * F.l1_loss(g_ba(fake_b).float(), real_a),
             "loss_cycle_b": m.lambda_b * F.l1_loss(g_ab(fake_a).float(), real_b)}
    if m.lambda_identity > 0:
        terms["loss_idt_a"] = m.lambda_a * m.lambda_identity * F.l1_loss(g_ba(real_a).float(), real_a)
        terms["loss_idt_b"] = m.lambda_b * m.lambda_identity * F.l1_loss(g_ab(real_b).float(), real_b)
    return terms


class ImagePool:
    """A history of generated images (Shrivastava et al. 2017): until it holds ``size`` images it stores and
    returns each new one; then, per image, with probability 1/2 it returns a stored image and keeps the new
    one in its place, else it returns the new image. Draws from torch's global RNG (checkpointed)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for img in images.detach().split(1):
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif float(torch.rand(())) < 0.5:
                i = int(torch.randint(self.size, ()))
                out.append(self.images[i])
                self.images[i] = img.clone()
            else:
                out.append(img)
        return torch.cat(out)

    def state(self) -> torch.Tensor:
        return torch.cat(self.images) if self.images else torch.empty(0)

    def load(self, images: torch.Tensor, device: torch.device) -> None:
        self.images = [x.to(device) for x in images.split(1)] if images.numel() else []


@RECIPES.register("cyclegan")
class CycleGAN(Recipe):
    name = "cyclegan"
    # Zhu et al.: ResNet-9 generators, 70x70 PatchGANs, 256x256, batch 1 | the offline demo (ResNet-6, width 16, 64x64)
    bench_configs = {"paper": ("cyclegan", {}), "small": ("cyclegan-pizza", {})}
    config_cls = CycleGANConfig
    data_kind: ClassVar[str] = "unpaired"
    translates: ClassVar[bool] = True
    directions: ClassVar[tuple[str, ...]] = ("AtoB", "BtoA")
    size_multiple: ClassVar[int] = 4  # two stride-2 downsamplings
    # On a CPU the ResNet generator's reflection padding and instance norm run slower in NHWC: the paper config's
    # step took 7.0 s with channels-last and 6.5 s without (fp32; bf16 4.4 s vs 3.8 s), docs/performance.md
    channels_last_cpu: ClassVar[bool] = False
    defaults: ClassVar[dict[str, Any]] = {**PAPER_DEFAULTS, "train": {**PAPER_DEFAULTS["train"], "n_samples": 4}}

    @classmethod
    def validate(cls, cfg: Config) -> None:
        m = cfg.model
        check_translation_options(cfg)
        if cfg.data.image_size % 4:
            raise GanforgeError(f"cyclegan needs data.image_size divisible by 4 (two downsamplings); got "
                                f"{cfg.data.image_size}")
        for k in ("lambda_a", "lambda_b", "lambda_identity", "pool_size"):
            if getattr(m, k) < 0:
                raise GanforgeError(f"config key model.{k} must be >= 0; got {getattr(m, k)}")

    def __init__(self, cfg: Config, data: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, data, device)
        m, o = cfg.model, cfg.optim
        c = data.channels
        self.loss = LOSSES.get(m.loss)

        def gen() -> nn.Module:
            return self.prepare(ResnetGenerator(c, c, RESNET_BLOCKS[m.generator], m.g_width, m.norm, m.dropout,
                                                final=m.final))

        self.g_ab, self.g_ba = gen(), gen()
        self.d_a = self.prepare(PatchGAN(c, m.d_width, m.d_layers, m.norm))  # real A vs G_BA(b)
        self.d_b = self.prepare(PatchGAN(c, m.d_width, m.d_layers, m.norm))  # real B vs G_AB(a)
        self.adam("g", itertools.chain(self.g_ab.parameters(), self.g_ba.parameters()), o.lr)
        self.adam("d", itertools.chain(self.d_a.parameters(), self.d_b.parameters()), o.resolved_lr_d)
        self.nets = {"g_ab": self.g_ab, "g_ba": self.g_ba, "d_a": self.d_a, "d_b": self.d_b}
        self.schedulers = linear_decay(self.optimizers, cfg)
        self.pool_a, self.pool_b = ImagePool(m.pool_size), ImagePool(m.pool_size)  # fakes of A (for D_A), of B
        self.augment = Augmenter(m, self.rand, cfg.train.batch_size, COLOR_ONLY)  # D(T(x)) for both Ds

    def train_step(self, batch: Any) -> dict[str, torch.Tensor]:
        m, ref = self.cfg.model, self.loss.reference_scale  # lsgan: plain MSE, as the reference
        real_a, real_b = batch.image, batch.target
        with self.amp():
            fake_b, fake_a = self.g_ab(real_a), self.g_ba(real_b)
            # Generators, with both discriminators frozen
            for d in (self.d_a, self.d_b):
                d.requires_grad_(False)
            t = self.augment
            terms = {"loss_g_ab": ref * self.loss.g(self.d_b(t(fake_b))), "loss_g_ba": ref * self.loss.g(self.d_a(t(fake_a))),
                     **cycle_terms(self.g_ab, self.g_ba, real_a, real_b, fake_a, fake_b, m)}
        loss_g = torch.stack(list(terms.values())).sum()
        self.update("g", loss_g)
        for d in (self.d_a, self.d_b):
            d.requires_grad_(True)
        # Discriminators: real images against fakes from the history pools; each loss halved
        with self.amp():
            real_a_logits = self.d_a(t(real_a))
            fake_a_logits = self.d_a(t(self.pool_a.query(fake_a.detach().float())))
            real_b_logits = self.d_b(t(real_b))
            fake_b_logits = self.d_b(t(self.pool_b.query(fake_b.detach().float())))
        loss_d_a = 0.5 * ref * self.loss.d(real_a_logits, fake_a_logits)
        loss_d_b = 0.5 * ref * self.loss.d(real_b_logits, fake_b_logits)
        self.update("d", loss_d_a + loss_d_b)
        extra = {}
        if t.on:
            t.observe(torch.cat([real_a_logits.detach().flatten(), real_b_logits.detach().flatten()]))
            extra["augment_p"] = torch.tensor(t.p)
        s = self.loss.score
        return {**extra, **{k: v.detach() for k, v in terms.items()}, "loss_g": loss_g.detach(), "loss_d_a": loss_d_a.detach(),
                "loss_d_b": loss_d_b.detach(), "d_a_real": s(real_a_logits.detach()), "d_a_fake": s(fake_a_logits.detach()),
                "d_b_real": s(real_b_logits.detach()), "d_b_fake": s(fake_b_logits.detach())}

    # ---------------------------------------------------------------------------------------------
    def input_channels(self, direction: str) -> int:
        return self.data.channels

    @torch.inference_mode()
    def translate(self, x: torch.Tensor, direction: str | None = "AtoB", batch_size: int = 16) -> torch.Tensor:
        """A -> B (``AtoB``, G_AB) or B -> A (``BtoA``, G_BA), dropout off; BatchNorm on each image's statistics."""
        if direction not in self.directions:
            raise GanforgeError(f"direction {direction!r}; choices: {', '.join(self.directions)}")
        g = self.g_ab if direction == "AtoB" else self.g_ba
        step = 1 if self.cfg.model.norm == "batch" else batch_size
        with at_test_time(g, dropout=False, norm="image"):
            return torch.cat([g(x[i : i + step].to(self.device)) for i in range(0, len(x), step)])

    def generate(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.translate(inputs["input"], "AtoB")

    sampling_nets = ("g_ab", "g_ba")

    def export_net(self, direction: str | None = "AtoB") -> nn.Module:
        """G_AB (``AtoB``) or G_BA as ``translate`` runs it: dropout off, BatchNorm on each image's statistics."""
        if direction not in self.directions:
            raise GanforgeError(f"direction {direction!r}; choices: {', '.join(self.directions)}")
        g = self.g_ab if direction == "AtoB" else self.g_ba
        return ExportTranslator(frozen_copy(g, per_image_norm=self.cfg.model.norm == "batch"))

    def preview(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Rows of real_A | fake_B | rec_A, then rows of real_B | fake_A | rec_B, for fixed test images."""
        a, b = inputs["input"].to(self.device), inputs["target"].to(self.device)
        fake_b, fake_a = self.translate(a, "AtoB"), self.translate(b, "BtoA")
        rec_a, rec_b = self.translate(fake_b, "BtoA"), self.translate(fake_a, "AtoB")
        return torch.cat([torch.stack([a, fake_b, rec_a], 1).flatten(0, 1), torch.stack([b, fake_a, rec_b], 1).flatten(0, 1)])

    def rank_state(self) -> dict[str, Any]:
        """The history pools: each torchrun rank keeps its own."""
        return {"pools": {"a": self.pool_a.state().cpu(), "b": self.pool_b.state().cpu()}}

    def load_rank_state(self, state: dict[str, Any]) -> None:
        if "pools" in state:
            self.pool_a.load(state["pools"]["a"], self.device)
            self.pool_b.load(state["pools"]["b"], self.device)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "pools": {"a": self.pool_a.state(), "b": self.pool_b.state()}}

    def load_state_dict(self, state: dict[str, Any], nets_only: bool = False) -> None:
        super().load_state_dict(state, nets_only)
        if not nets_only:
            self.load_rank_state(state)


# --------------------------------------------------------------------------------------------------
# Presets


def _cyclegan(source: str, **model: Any) -> dict[str, Any]:
    # The paper's setup (the recipe's defaults add 286 -> 256 random crop + flip, Adam 2e-4 (0.5, 0.999), batch 1,
    # 200 epochs of which the last 100 decay): ResNet-9 generators, 70x70 PatchGANs, InstanceNorm, least squares,
    # cycle 10, identity 0.5, pools of 50.
    return {
        "recipe": "cyclegan",
        "model": {"generator": "resnet_9blocks", "d_layers": 3, "norm": "instance", "loss": "lsgan", "lambda_a": 10.0,
                  "lambda_b": 10.0, "lambda_identity": 0.5, "pool_size": 50, **model},
        "data": {"source": source},
    }


for _name, _preset in {
    "cyclegan": Preset("CycleGAN (Zhu et al.) on any two domains (--data PATH with trainA/ trainB/), 256x256, ResNet-9, "
                       "LSGAN, cycle 10, identity 0.5, batch 1, 200 epochs", _cyclegan(""), needs_data=True),
    "cyclegan-dropout": Preset("the seed's experiment: cyclegan with dropout 0.2 in the residual blocks",
                               _cyclegan("", dropout=0.2), needs_data=True),
    "cyclegan-pizza": Preset("offline CycleGAN demo: flat <-> photographic builtin pizzas at 64x64, ResNet-6 of width 16, "
                             "a few minutes on 2 CPU cores",
                             {**_cyclegan("builtin:pizza", generator="resnet_6blocks", g_width=16, d_width=16),
                              "data": {"source": "builtin:pizza", "image_size": 64, "load_size": 72, "builtin_n": 512},
                              "train": {"epochs": 4, "batch_size": 4, "log_every": 16, "n_samples": 4}}),
}.items():
    PRESETS.add(_name, _preset)
