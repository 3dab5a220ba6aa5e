"""The GAN family: DCGAN, MLP GAN, WGAN-GP and their class-conditional versions, sharing one training
step and the loss/regularizer toolbox (``GANOptions``).

One step (``GAN.train_step``), as in pytorch/examples/dcgan and Gulrajani et al. algorithm 1:
  1. fake = G(z, y) with y the batch's labels (conditional recipes; the class mix follows the data);
  2. one D update on real and detached fake inputs (plus instance noise, label smoothing, gradient
     penalty and R1 when enabled);
  3. every ``n_critic``-th step, one G update on the same fakes through the updated D, then the EMA.
Each step consumes one batch, so with n_critic = 5 an epoch holds steps_per_epoch critic updates and a
fifth as many generator updates (as in the WGAN-GP code, which draws a fresh real batch per critic step).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import AugmentOptions, Augmenter
from ..augment import check_options as check_augment
from ..config import Config
from ..errors import GanforgeError
from ..losses import LOSSES, gradient_penalty, r1_penalty
from ..nets.dcgan import SIZES, DCGANDiscriminator, DCGANGenerator
from ..kinds import Kind
from ..nets.layers import EMA, ExportConditionalGenerator, ExportGenerator, frozen_copy, standing_batchnorm_stats
from ..nets.mlp import MLPDiscriminator, MLPGenerator
from ..nets.wgangp import WGANGPCritic, WGANGPGenerator
from ..rng import Stream, seeded
from .base import RECIPES, DataInfo, Recipe, linear_decay


@dataclass(frozen=True)
class GANOptions(AugmentOptions):
    """The loss and regularizer toolbox, part of every GAN recipe's ``model`` section (with augmentation)."""

    loss: str = "nonsaturating"  # adversarial loss: a name registered in losses.LOSSES
    gp: float | None = None  # gradient penalty weight; None = 10 with the wasserstein loss, else 0
    r1: float = 0.0  # R1 penalty weight gamma (the penalty is gamma/2 * E||grad D(x)||^2)
    label_smoothing: float = 0.0  # one-sided: real target 1 - s (nonsaturating, minimax, lsgan)
    instance_noise: float = 0.0  # std of Gaussian noise added to every D input, real and fake
    n_critic: int = 1  # D updates per G update
    spectral_norm: bool = False  # spectral normalisation of every D layer
    packing: int = 1  # PacGAN: D judges this many samples jointly (must divide the batch)
    minibatch_std: bool = False  # minibatch standard deviation feature before D's last layer
    g_dropout: float = 0.0  # dropout after each hidden G layer (training only)
    ema: float = 0.0  # decay of the moving average of G's weights used for sampling; 0 = off
    # Conditional recipes (cgan, cdcgan): how D takes the label. concat = the label appended to D's input (Mirza &
    # Osindero, the seeds'); projection = <embed(y), features> added to D's logit (Miyato & Koyama 2018). ac_weight > 0
    # adds an auxiliary classifier to D (AC-GAN, Odena et al. 2017): D and G also minimise ac_weight x the
    # cross-entropy of the class on real (D) and generated (D and G) images.
    d_condition: Literal["concat", "projection"] = "concat"
    ac_weight: float = 0.0

    @property
    def resolved_gp(self) -> float:
        return (10.0 if self.loss == "wasserstein" else 0.0) if self.gp is None else self.gp


@dataclass(frozen=True)
class DCGANConfig(GANOptions):
    latent_dim: int = 100  # nz
    g_width: int = 64  # ngf
    d_width: int = 64  # ndf
    d_norm: Literal["batch", "layer", "none"] = "batch"  # normalisation in D's hidden blocks


@dataclass(frozen=True)
class MLPConfig(GANOptions):
    latent_dim: int = 100
    g_hidden: tuple[int, ...] = (256, 512, 1024)  # G's hidden layer sizes
    d_hidden: tuple[int, ...] = (1024, 512, 256)  # D's hidden layer sizes
    g_batchnorm: bool = True  # BatchNorm in G's hidden layers (after the first); the seed needed it on MNIST
    d_dropout: float = 0.0  # dropout after each hidden D layer
    eval_points: int = 2500  # 2-D data: generated points per epoch for the scatter plot and mode metrics


@dataclass(frozen=True)
class WGANGPConfig(GANOptions):
    loss: str = "wasserstein"
    n_critic: int = 5
    latent_dim: int = 128
    g_width: int = 64  # dim: the first conv layer has 8 * dim channels (the Dense layer 8 * 4 * 4 * dim units)
    d_width: int = 64
    d_norm: Literal["batch", "layer", "none"] = "layer"


def _check_options(cfg: Config, conditional: bool) -> None:
    """Bad toolbox settings as one-line errors, before anything is built."""
    m = cfg.model
    check_augment(m)
    if (m.d_condition != "concat" or m.ac_weight) and not conditional:
        raise GanforgeError(f"model.d_condition={m.d_condition} / model.ac_weight={m.ac_weight} are for conditional "
                            f"recipes (cgan, cdcgan); recipe {cfg.recipe} is unconditional")
    if m.ac_weight < 0:
        raise GanforgeError(f"config key model.ac_weight must be >= 0; got {m.ac_weight}")
    if (m.d_condition == "projection" or m.ac_weight) and m.packing > 1:
        raise GanforgeError("model.d_condition=projection and model.ac_weight read one sample's features: they need "
                            f"model.packing=1; got {m.packing}")
    if m.loss not in LOSSES:
        raise GanforgeError(f"config key model.loss must be one of {', '.join(n for n, _ in LOSSES.items())}; "
                            f"got {m.loss!r}")
    loss = LOSSES.get(m.loss)
    for k in ("r1", "label_smoothing", "instance_noise", "g_dropout"):
        if getattr(m, k) < 0:
            raise GanforgeError(f"config key model.{k} must be >= 0; got {getattr(m, k)}")
    if m.gp is not None and m.gp < 0:
        raise GanforgeError(f"config key model.gp must be >= 0 (or none for the loss's default); got {m.gp}")
    if m.n_critic < 1:
        raise GanforgeError(f"config key model.n_critic must be >= 1; got {m.n_critic}")
    if m.packing < 1:
        raise GanforgeError(f"config key model.packing must be >= 1; got {m.packing}")
    if cfg.train.batch_size % m.packing:
        raise GanforgeError(f"config key model.packing={m.packing} does not divide train.batch_size="
                            f"{cfg.train.batch_size}; use a packing that divides the batch")
    if not 0 <= m.g_dropout < 1:
        raise GanforgeError(f"config key model.g_dropout must be in [0, 1); got {m.g_dropout}")
    if not 0 <= m.label_smoothing < 1:
        raise GanforgeError(f"config key model.label_smoothing must be in [0, 1); got {m.label_smoothing}")
    if m.label_smoothing and not loss.has_target:
        raise GanforgeError(f"model.label_smoothing needs a loss with a real target (nonsaturating, minimax, lsgan); "
                            f"got model.loss={m.loss}")
    if not 0 <= m.ema < 1:
        raise GanforgeError(f"config key model.ema must be in [0, 1) (0 = off); got {m.ema}")
    if m.latent_dim < 1:
        raise GanforgeError(f"config key model.latent_dim must be > 0; got {m.latent_dim}")
    if loss.needs_lipschitz and not m.resolved_gp and not m.spectral_norm:
        warnings.warn("model.loss=wasserstein with model.gp=0 and no spectral norm: the critic is unconstrained "
                      "and training will diverge", stacklevel=2)
    if (m.resolved_gp or m.r1) and getattr(m, "d_norm", "none") == "batch":
        raise GanforgeError("a gradient penalty (model.gp or model.r1) needs a discriminator without BatchNorm: "
                            "set model.d_norm=layer or none")


class GAN(Recipe):
    """A generator ``g(z, y)`` and a discriminator ``d(x, y)`` (y only when conditional)."""

    conditional: ClassVar[bool] = False

    @classmethod
    def validate(cls, cfg: Config) -> None:
        _check_options(cfg, cls.conditional)

    def __init__(self, cfg: Config, data: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, data, device)
        if self.conditional and not data.class_names:
            raise GanforgeError(f"recipe {self.name} is class-conditional but the data has no labels; use labelled "
                                "data (mnist, cifar10, a class folder, builtin:pizza) or an unconditional recipe")
        self.n_classes = len(data.class_names) if self.conditional and data.class_names else 0
        m = cfg.model
        self.loss = LOSSES.get(m.loss)
        self._build_pair(m.ema)
        self.schedulers = linear_decay(self.optimizers, cfg)
        if self.augment.on and data.points:
            raise GanforgeError(f"model.augment={m.augment} transforms images; the data is {data.points}-D points: "
                                "use model.augment=none")

    def build_nets(self) -> tuple[nn.Module, nn.Module]:
        raise NotImplementedError

    def _build_pair(self, ema: float) -> None:
        """What every recipe of the family starts with: G and D from ``build_nets`` on the device, their Adam
        optimizers, the EMA of G (``ema``: its decay; 0 = none), the D-step counter and the augmentation T of D(T(x))
        for every image D sees."""
        cfg = self.cfg
        g, d = self.build_nets()
        self.g, self.d = self.prepare(g), self.prepare(d)
        self.adam("g", self.g.parameters(), cfg.optim.lr)
        self.adam("d", self.d.parameters(), cfg.optim.resolved_lr_d)
        self.nets = {"g": self.g, "d": self.d}
        self.ema = EMA(self.g, ema) if ema else None
        if self.ema is not None:
            self.nets["g_ema"] = self.ema.net
        self.d_updates = 0  # D steps taken (n_critic; R3GAN's schedules: images = steps x global batch)
        self.augment = Augmenter(cfg.model, self.rand, cfg.train.batch_size)

    def _d_condition(self) -> dict[str, Any]:
        """The discriminator's conditioning arguments beyond the seeds' concatenation (none by default)."""
        m = self.cfg.model
        if m.d_condition == "concat" and not m.ac_weight:
            return {}
        return {"condition": m.d_condition, "aux_classes": self.n_classes if m.ac_weight else 0}

    def _judge(self, x: torch.Tensor, y: torch.Tensor | None, out: dict[str, torch.Tensor],
               key: str) -> tuple[torch.Tensor, torch.Tensor]:
        """D's logits of ``x`` and, with an AC-GAN head, ac_weight x the cross-entropy of its class (else 0)."""
        m = self.cfg.model
        x = self.augment(x)
        if not m.ac_weight:
            return self.d(x, y), torch.zeros((), device=x.device)
        logits, classes = self.d.forward_with_classes(x, y)
        ce = F.cross_entropy(classes.float(), y)
        out[key] = ce.detach()
        return logits, m.ac_weight * ce

    # ---------------------------------------------------------------------------------------------
    def _noisy(self, x: torch.Tensor) -> torch.Tensor:
        s = self.cfg.model.instance_noise
        return x + s * self.randn(*x.shape) if s else x

    def train_step(self, batch: Any) -> dict[str, torch.Tensor]:
        m = self.cfg.model
        real = batch.image
        y = batch.label if self.conditional else None
        z = self.randn(real.shape[0], m.latent_dim)
        self.g.train()
        with self.amp():
            fake = self.g(z, y)
        out: dict[str, torch.Tensor] = {}

        # D (critic) update. With fp16 the penalties' input gradients would underflow: that D step runs in fp32.
        penalties = bool(m.resolved_gp or m.r1)
        with self.amp(enabled=not (penalties and self.precision == "fp16")):
            real_in, fake_in = self._noisy(real), self._noisy(fake.detach())
            if m.r1:
                real_in = real_in.detach().requires_grad_(True)
            real_logits, ac_real = self._judge(real_in, y, out, "ac_real")
            fake_logits, ac_fake = self._judge(fake_in, y, out, "ac_fake")
            loss_d = self.loss.d(real_logits, fake_logits, 1.0 - m.label_smoothing)
            if m.ac_weight:
                loss_d = loss_d + ac_real + ac_fake
            if penalties:
                out["loss_d_adv"] = loss_d.detach()  # loss_d without the penalties
            if m.resolved_gp:
                alpha = self.rand(real.shape[0])
                gp = gradient_penalty(lambda x: self.d(self.augment(x), y), real_in, fake_in, alpha)
                loss_d = loss_d + m.resolved_gp * gp
                out["gp"] = gp.detach()
            if m.r1:
                r1 = r1_penalty(real_logits, real_in)
                loss_d = loss_d + 0.5 * m.r1 * r1
                out["r1"] = r1.detach()
        self.update("d", loss_d)
        self.d_updates += 1
        if self.augment.on:
            self.augment.observe(real_logits)
            out["augment_p"] = torch.tensor(self.augment.p)
        out["loss_d"] = loss_d.detach()
        out["d_real"], out["d_fake"] = self.loss.score(real_logits.detach()), self.loss.score(fake_logits.detach())
        if self.loss.needs_lipschitz:
            out["w_distance"] = real_logits.detach().float().mean() - fake_logits.detach().float().mean()  # the critic's estimate

        # G update through the updated D, every n_critic-th step
        if self.d_updates % m.n_critic == 0:
            with self.amp():
                fake_logits_g, ac_g = self._judge(self._noisy(fake), y, out, "ac_g")
                loss_g = self.loss.g(fake_logits_g) + ac_g
            self.update("g", loss_g)
            if self.ema is not None:
                self.ema.update(self.g)
            out["loss_g"] = loss_g.detach()
        return out

    # ---------------------------------------------------------------------------------------------
    def _labels(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randint(0, self.n_classes, (n,), generator=generator)

    def sample_inputs(self, n: int, generator: torch.Generator, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        z = torch.randn(n, self.cfg.model.latent_dim, generator=generator)
        if not self.conditional:
            if labels is not None:
                raise GanforgeError(f"--class: recipe {self.name} is unconditional (it takes no class)")
            return {"z": z}
        return {"z": z, "y": self._labels(n, generator) if labels is None else labels.long()}

    def preview_inputs(self, n: int, generator: torch.Generator) -> tuple[dict[str, torch.Tensor], int]:
        """Inputs of the per-epoch sample image and the images per grid row: a class grid (one row per
        class, about n images in all) for conditional models."""
        if not self.conditional:
            return self.sample_inputs(n, generator), 8
        cols = max(1, round(n / self.n_classes))
        labels = torch.arange(self.n_classes).repeat_interleave(cols)
        return self.sample_inputs(len(labels), generator, labels), cols

    @property
    def sampling_nets(self) -> tuple[str, ...]:
        return ("g_ema",) if self.ema is not None else ("g",)

    def _sampling_generator(self) -> nn.Module:
        """The generator samples come from (the EMA one where kept), its BatchNorm running statistics replaced
        by standing statistics from fresh inputs (their own generator: the training RNG stream is untouched), so
        that in eval mode samples do not depend on which other samples share their batch."""
        g = self.nets[self.sampling_nets[0]]
        if not getattr(self, "weights_changed", True):  # the same weights: the same statistics (served models)
            return g
        self.weights_changed = False
        gen = seeded(Stream.STANDING_BN)

        def fresh(i: int) -> tuple[torch.Tensor, ...]:
            x = self.sample_inputs(128, gen)
            return tuple(v.to(self.device) for v in x.values())

        standing_batchnorm_stats(g, fresh)
        return g

    @torch.inference_mode()
    def generate(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        g = self._sampling_generator()
        was_training = g.training
        g.eval()
        z, y = inputs["z"].to(self.device), inputs.get("y")
        y = None if y is None else y.to(self.device)
        out = torch.cat([g(z[i : i + 256], None if y is None else y[i : i + 256]) for i in range(0, len(z), 256)])
        g.train(was_training)
        return out

    def export_net(self, direction: str | None = None) -> nn.Module:
        net = frozen_copy(self._sampling_generator())
        if self.kind is Kind.CONDITIONAL:
            return ExportConditionalGenerator(net)
        return ExportGenerator(net, clamp=self.kind is not Kind.POINTS)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["d_updates"] = self.d_updates
        if self.ema is not None:
            state["ema_updates"] = self.ema.updates
        return state

    def load_state_dict(self, state: dict, nets_only: bool = False) -> None:
        super().load_state_dict(state, nets_only)
        self.d_updates = int(state.get("d_updates", 0))
        if self.ema is not None:
            self.ema.updates = int(state.get("ema_updates", 0))


# --------------------------------------------------------------------------------------------------
# The recipes: networks only


def _check_conv(cfg: Config, name: str) -> None:
    m = cfg.model
    for k in ("g_width", "d_width"):
        if getattr(m, k) < 1:
            raise GanforgeError(f"config key model.{k} must be > 0; got {getattr(m, k)}")
    if cfg.data.image_size not in SIZES:
        raise GanforgeError(f"config key data.image_size must be one of {', '.join(map(str, SIZES))} for {name}; "
                            f"got {cfg.data.image_size}")


@RECIPES.register("dcgan")
class DCGAN(GAN):
    """DCGAN (Radford et al. 2016) with the non-saturating loss; Adam 2e-4, betas (0.5, 0.999)."""

    name = "dcgan"
    # Radford et al.: 64x64, batch 128, nz 100, ngf = ndf = 64 | the offline demo's networks (32x32, width 32)
    bench_configs = {"paper": ("dcgan-folder", {}), "small": ("dcgan-pizza", {"train": {"batch_size": 16}})}
    config_cls = DCGANConfig
    generator_cls: ClassVar[type[nn.Module]] = DCGANGenerator
    discriminator_cls: ClassVar[type[nn.Module]] = DCGANDiscriminator

    @classmethod
    def validate(cls, cfg: Config) -> None:
        _check_conv(cfg, cls.name)
        super().validate(cfg)

    def build_nets(self) -> tuple[nn.Module, nn.Module]:
        m, c, s, k = self.cfg.model, self.data.channels, self.data.image_size, self.n_classes
        return (self.generator_cls(m.latent_dim, m.g_width, c, s, n_classes=k, dropout=m.g_dropout),
                self.discriminator_cls(m.d_width, c, s, norm=m.d_norm, n_classes=k, packing=m.packing,
                                       minibatch_std=m.minibatch_std, spectral_norm=m.spectral_norm,
                                       **self._d_condition()))


@RECIPES.register("cdcgan")
class ConditionalDCGAN(DCGAN):
    """Class-conditional DCGAN: one-hot label appended to z, label maps appended to D's input."""

    name = "cdcgan"
    # no paper of its own: DCGAN's setting with labels
    bench_configs = {"paper": ("dcgan-folder", {"recipe": "cdcgan"}),
                     "small": ("dcgan-pizza", {"recipe": "cdcgan", "train": {"batch_size": 16}})}
    conditional = True


@RECIPES.register("wgangp")
class WGANGP(DCGAN):
    """WGAN-GP (Gulrajani et al. 2017): Wasserstein loss + gradient penalty 10, 5 critic steps per G
    step, Adam 1e-4 with betas (0.5, 0.9) (the paper's DCGAN-architecture experiments). Same constructor
    arguments as DCGAN's networks, other layers."""

    name = "wgangp"
    # Gulrajani et al.'s 64x64 networks, batch 64, n_critic 5 | the CIFAR-10 setting at 32x32
    bench_configs = {"paper": ("wgangp-folder", {}), "small": ("wgangp-cifar10", {"train": {"batch_size": 16}})}
    config_cls = WGANGPConfig
    defaults: ClassVar[dict[str, Any]] = {"optim": {"lr": 1e-4, "beta1": 0.5, "beta2": 0.9}}
    generator_cls = WGANGPGenerator
    discriminator_cls = WGANGPCritic


@RECIPES.register("mlp")
class MLPGAN(GAN):
    """The GAN of dense layers (Goodfellow et al. 2014) on images or on 2-D points."""

    name = "mlp"
    # MNIST: 28x28, 1 channel, batch 64
    bench_configs = {"paper": ("mlp-mnist", {}), "small": ("mlp-mnist", {"train": {"batch_size": 16}})}
    config_cls = MLPConfig

    @classmethod
    def validate(cls, cfg: Config) -> None:
        m = cfg.model
        for k in ("g_hidden", "d_hidden"):
            if not getattr(m, k) or min(getattr(m, k)) < 1:
                raise GanforgeError(f"config key model.{k} must be a list of positive sizes; got {list(getattr(m, k))}")
        if not 0 <= m.d_dropout < 1:
            raise GanforgeError(f"config key model.d_dropout must be in [0, 1); got {m.d_dropout}")
        if m.eval_points < 1:
            raise GanforgeError(f"config key model.eval_points must be > 0; got {m.eval_points}")
        super().validate(cfg)

    def build_nets(self) -> tuple[nn.Module, nn.Module]:
        m, d, k = self.cfg.model, self.data, self.n_classes
        shape = (d.points,) if d.points else (d.channels, d.image_size, d.image_size)
        return (MLPGenerator(m.latent_dim, shape, m.g_hidden, m.g_batchnorm, m.g_dropout, k, tanh=not d.points),
                MLPDiscriminator(shape, m.d_hidden, k, m.packing, m.minibatch_std, m.spectral_norm, m.d_dropout,
                                 **self._d_condition()))

    def preview_inputs(self, n: int, generator: torch.Generator) -> tuple[dict[str, torch.Tensor], int]:
        if self.data.points:  # a scatter plot, not a grid: enough points for the mode metrics
            return self.sample_inputs(self.cfg.model.eval_points, generator), 0
        return super().preview_inputs(n, generator)


@RECIPES.register("cgan")
class ConditionalGAN(MLPGAN):
    """Conditional GAN of Mirza & Osindero (2014): dense layers, one-hot label joined to z and to D's input."""

    name = "cgan"
    bench_configs = {"paper": ("cgan-mnist", {}), "small": ("cgan-mnist", {"train": {"batch_size": 16}})}
    conditional = True


