"""What every recipe shares: named networks/optimizers/schedulers and their state dicts.

A recipe builds its networks and optimizers from its config and defines ``train_step(batch)``, which
returns a dict of scalar tensors (no ``.item()``: the trainer gathers them every N steps). It does no
I/O, logging or checkpointing. This base holds the bookkeeping that checkpoints need and the few calls
through which every recipe gets the speed settings and data parallelism (``ganforge.speed``,
``ganforge.distributed``): ``prepare(net)``, ``adam(...)``, ``amp()``, ``update(name, loss)`` and the
global-batch noise ``randn``/``rand``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterable

import torch
from torch import nn

from .. import distributed, speed
from ..config import Config
from ..errors import choices_error
from ..kinds import Kind
from ..registry import Registry
from ..rng import Stream, seeded


@dataclass(frozen=True)
class Preset:
    """A named starting point: a config layer (the recipe's defaults apply underneath)."""

    summary: str
    layer: dict[str, Any]
    needs_data: bool = False  # the preset has no usable default data source


# Each recipe module registers its recipes and their presets (the GAN family's presets are in gan_presets.py).
RECIPES: Registry = Registry("recipe", choices_error)
PRESETS: Registry = Registry("preset", choices_error)


@dataclass(frozen=True)
class DataInfo:
    """What a recipe needs to know about the data to build its networks."""

    channels: int
    image_size: int
    class_names: tuple[str, ...] | None = None
    points: int = 0  # dimension of point data (2-D toys); 0 = images
    input_channels: int = 0  # translation recipes: channels of the input images (the output has ``channels``)
    steps: int = 0  # training steps the run will take (recipes with schedules over the run); 0 = not training


class Recipe:
    name: ClassVar[str]
    config_cls: ClassVar[type]
    defaults: ClassVar[dict[str, Any]] = {}  # config layer under every preset (e.g. the recipe's optimiser)
    data_kind: ClassVar[str] = "images"  # images | pairs (translation pairs: Batch.image -> Batch.target)
    translates: ClassVar[bool] = False  # has ``translate(x)`` (``ganforge translate``)
    channels_last_cpu: ClassVar[bool] = True  # train.channels_last=auto on a CPU (measured: docs/performance.md)
    # ``ganforge bench``: configuration name (paper, small) -> (the preset it starts from, a config layer on top)
    bench_configs: ClassVar[dict[str, tuple[str, dict[str, Any]]]] = {}

    def __init__(self, cfg: Config, data: DataInfo, device: torch.device) -> None:
        self.cfg, self.data, self.device = cfg, data, device
        self.nets: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}
        self.precision = speed.resolve_precision(cfg.train.precision, device, strict=False)
        self.scalers: dict[str, torch.amp.GradScaler] = {}  # fp16: one gradient scaler per optimizer
        self.world = distributed.world()
        # The noise of each step (z, the penalty's alpha, instance noise) comes from its own generator, the same on
        # every torchrun rank, so that the ranks draw the global batch's noise and keep their slice; torch's default
        # generator (dropout masks, CycleGAN's pool) is seeded per rank by the trainer.
        self.noise_gen = seeded(cfg.train.seed, Stream.NOISE, device=device)

    @property
    def kind(self) -> Kind:
        """What kind of model this is (``ganforge.kinds``): decided here, once, for every consumer."""
        if self.translates:
            return Kind.TRANSLATOR
        if self.data.points:
            return Kind.POINTS
        if getattr(self, "conditional", False) and self.data.class_names:
            return Kind.CONDITIONAL
        return Kind.GENERATOR

    @classmethod
    def build(cls, cfg: Config, data: DataInfo, device: torch.device) -> Recipe:
        """A recipe ready to train: constructed, then (``train.compile``) its trained networks compiled and
        (under torchrun) rank 0's weights broadcast. Sampling and evaluation construct recipes directly."""
        recipe = cls(cfg, data, device)
        if recipe.world.size > 1:
            distributed.broadcast_nets(recipe.nets.values())
        if cfg.train.compile:
            for name, net in recipe.nets.items():
                if not name.endswith("_ema"):  # averages are only sampled from
                    net.compile()
        return recipe

    # ---------------------------------------------------------------------------------------------
    # The speed settings and data parallelism, in four calls

    def prepare(self, net: nn.Module) -> nn.Module:
        """A new network onto the device: channels-last and SyncBatchNorm as configured."""
        t = self.cfg.train
        if t.sync_bn and self.world.size > 1:
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        net = net.to(self.device)
        return speed.channels_last(net) if self.channels_last else net

    @property
    def channels_last(self) -> bool:
        return speed.use_channels_last(self.cfg.train.channels_last, self.device, self.channels_last_cpu)

    def adam(self, name: str, params: Iterable[nn.Parameter], lr: float) -> torch.optim.Adam:
        """The optimizer ``name`` (Adam with optim.beta1/beta2/weight_decay), registered for checkpoints."""
        o = self.cfg.optim
        opt = speed.adam(params, lr, (o.beta1, o.beta2), o.weight_decay, self.device)
        self.optimizers[name] = opt
        scaler = speed.grad_scaler(self.precision, self.device)
        if scaler is not None:
            self.scalers[name] = scaler
        return opt

    def amp(self, enabled: bool = True) -> Any:
        """Autocast context of ``train.precision`` (wrap forward passes in it; losses are fp32 anyway)."""
        return speed.autocast(self.precision if enabled else "fp32", self.device)

    def update(self, name: str, loss: torch.Tensor) -> None:
        """One optimizer step on ``loss``: zero the gradients, backward (scaled for fp16), average the
        gradients over the ranks under torchrun, step."""
        self.weights_changed = True  # what was derived from the weights (standing BN statistics) is stale
        opt, scaler = self.optimizers[name], self.scalers.get(name)
        opt.zero_grad(set_to_none=True)
        (scaler.scale(loss) if scaler is not None else loss).backward()
        if self.world.size > 1:
            distributed.average_gradients((p for g in opt.param_groups for p in g["params"]), self.world.size)
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()

    def randn(self, n: int, *shape: int) -> torch.Tensor:
        """(n, *shape) standard normal draws on the device: this rank's slice of the global batch's draws."""
        return self._global(torch.randn, n, shape)

    def rand(self, n: int, *shape: int) -> torch.Tensor:
        """(n, *shape) uniform [0, 1) draws on the device, sliced from the global batch's like ``randn``."""
        return self._global(torch.rand, n, shape)

    def _global(self, fn: Any, n: int, shape: tuple[int, ...]) -> torch.Tensor:
        w = self.world
        x = fn(n * w.size, *shape, device=self.device, generator=self.noise_gen)
        return x[w.rank * n : (w.rank + 1) * n] if w.size > 1 else x

    def rank_state(self) -> dict[str, Any]:
        """State that differs between torchrun ranks (gathered into checkpoints); none by default."""
        return {}

    def load_rank_state(self, state: dict[str, Any]) -> None:
        pass

    @classmethod
    def validate(cls, cfg: Config) -> None:
        """Checks of the recipe's own settings and of combinations; raise GanforgeError."""

    def train_step(self, batch: Any) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def sample_inputs(self, n: int, generator: torch.Generator, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The inputs ``generate`` takes (noise, and labels for conditional models), drawn on the CPU."""
        raise NotImplementedError

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """The shape of one sample's noise ``z`` (without the batch dimension), as ``sample_inputs`` draws it."""
        return tuple(self.sample_inputs(1, seeded(0, Stream.SAMPLE))["z"].shape[1:])

    def preview_inputs(self, n: int, generator: torch.Generator) -> tuple[dict[str, torch.Tensor], int]:
        """Inputs of the per-epoch sample image, and images per grid row (0: not a grid)."""
        return self.sample_inputs(n, generator), 8

    @torch.inference_mode()
    def generate(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Images in [-1, 1] (or points) for the given inputs, in inference mode."""
        raise NotImplementedError

    def preview(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The images of the per-epoch sample grid for the fixed ``inputs``."""
        return self.generate(inputs)

    def evaluate(self, batches: Iterable[Any]) -> dict[str, float]:
        """Validation scores over ``batches`` (recipes with validation data); logged each epoch."""
        return {}

    @property
    def sampling_nets(self) -> tuple[str, ...]:
        """The networks (keys of ``nets``) that sampling and translation run: what an export holds."""
        raise NotImplementedError

    def export_net(self, direction: str | None = None) -> nn.Module:
        """A stand-alone copy of the network inference runs, in the state it runs in, taking and returning
        tensors only (``ganforge.nets.layers.Export*``): what ``ganforge export`` traces."""
        raise NotImplementedError

    def end_epoch(self, epoch: int) -> None:
        for s in self.schedulers.values():
            s.step()

    def state_dict(self) -> dict[str, Any]:
        return {
            "nets": {k: v.state_dict() for k, v in self.nets.items()},
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
            "scalers": {k: v.state_dict() for k, v in self.scalers.items()},
            "noise_rng": self.noise_gen.get_state(),
            **({"augment": self.augment.state_dict()} if self._augmenting else {}),
        }

    @property
    def _augmenting(self) -> bool:
        """Whether this recipe has an ``augment`` (ganforge.augment.Augmenter) that is on: its p is state."""
        return getattr(getattr(self, "augment", None), "on", False)

    def load_state_dict(self, state: dict[str, Any], nets_only: bool = False) -> None:
        self.weights_changed = True
        for k, net in self.nets.items():
            net.load_state_dict(state["nets"][k])
        if nets_only:
            return
        for k, opt in self.optimizers.items():
            speed.keep_implementation(opt, state["optimizers"][k])
        for k, sch in self.schedulers.items():
            if k in state.get("schedulers", {}):  # checkpoints of older versions had none without a decay
                sch.load_state_dict(state["schedulers"][k])
            # the lr of this run's plan at the epoch reached: a run resumed with another train.epochs decays as a run
            # of that length would (the optimizer state holds the lr of the old plan)
            for group, base, fn in zip(sch.optimizer.param_groups, sch.base_lrs, sch.lr_lambdas):
                group["lr"] = base * fn(sch.last_epoch)
        if "noise_rng" in state:
            try:
                self.noise_gen.set_state(state["noise_rng"].cpu())
            except RuntimeError:  # written on another device type (CUDA's generator state is not a CPU one's)
                pass
        if self._augmenting and "augment" in state:
            self.augment.load_state_dict(state["augment"])
        for k, scaler in self.scalers.items():  # a run resumed in fp16 from another precision starts a new scale
            if k in state.get("scalers", {}):
                scaler.load_state_dict(state["scalers"][k])


def linear_decay(optimizers: dict[str, torch.optim.Optimizer], cfg: Config) -> dict[str, Any]:
    """The pix2pix/CycleGAN schedule (the reference's 'linear' policy): the lr stays constant for
    ``train.epochs - n_decay`` epochs, then falls linearly; in epoch e (0-based) it is scaled by
    1 - max(0, e + 1 - n_const) / (n_decay + 1), n_decay = optim.decay_epochs, else optim.decay x train.epochs.
    Stepped once per epoch. With n_decay 0 the factor is 1 throughout, but the schedulers exist all the same: a run
    resumed with more epochs (``resume RUN train.epochs=N``) may then decay, and finds their state in the checkpoint."""
    n_decay = cfg.optim.resolved_decay_epochs(cfg.train.epochs)
    n_const = cfg.train.epochs - n_decay

    def factor(epoch: int) -> float:
        return 1.0 - max(0, epoch + 1 - n_const) / (n_decay + 1) if n_decay else 1.0

    return {k: torch.optim.lr_scheduler.LambdaLR(opt, factor) for k, opt in optimizers.items()}
