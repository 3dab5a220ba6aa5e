"""DCGAN (Radford et al. 2016) trained with the non-saturating GAN loss (Goodfellow et al. 2014).

One step, as in pytorch/examples/dcgan: update D on a real batch and a fake batch, then update G
on the same fakes through the updated D. Adam 2e-4, betas (0.5, 0.999).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import Config
from ..errors import GanforgeError
from ..losses import d_loss_nonsaturating, g_loss_nonsaturating
from ..nets.dcgan import SIZES, DCGANDiscriminator, DCGANGenerator
from ..nets.layers import EMA, standing_batchnorm_stats
from ..registry import RECIPES
from ..rng import seeded
from .base import DataInfo, Recipe


@dataclass(frozen=True)
class DCGANConfig:
    latent_dim: int = 100  # nz
    g_width: int = 64  # ngf
    d_width: int = 64  # ndf
    ema: float = 0.0  # decay of the moving average of G's weights used for sampling; 0 = off


@RECIPES.register("dcgan")
class DCGAN(Recipe):
    name = "dcgan"
    config_cls = DCGANConfig

    @classmethod
    def validate(cls, cfg: Config) -> None:
        m = cfg.model
        for k in ("latent_dim", "g_width", "d_width"):
            if getattr(m, k) < 1:
                raise GanforgeError(f"config key model.{k} must be > 0; got {getattr(m, k)}")
        if not 0 <= m.ema < 1:
            raise GanforgeError(f"config key model.ema must be in [0, 1) (0 = off); got {m.ema}")
        if cfg.data.image_size not in SIZES:
            raise GanforgeError(f"config key data.image_size must be one of {', '.join(map(str, SIZES))} for dcgan; "
                                f"got {cfg.data.image_size}")

    def __init__(self, cfg: Config, data: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, data, device)
        m, o = cfg.model, cfg.optim
        self.g = DCGANGenerator(m.latent_dim, m.g_width, data.channels, data.image_size).to(device)
        self.d = DCGANDiscriminator(m.d_width, data.channels, data.image_size).to(device)
        self.opt_g = torch.optim.Adam(self.g.parameters(), o.lr, betas=(o.beta1, o.beta2), weight_decay=o.weight_decay)
        self.opt_d = torch.optim.Adam(self.d.parameters(), o.resolved_lr_d, betas=(o.beta1, o.beta2),
                                      weight_decay=o.weight_decay)
        self.nets = {"g": self.g, "d": self.d}
        self.optimizers = {"g": self.opt_g, "d": self.opt_d}
        self.ema = EMA(self.g, m.ema) if m.ema else None
        if self.ema is not None:
            self.nets["g_ema"] = self.ema.net

    def sample_inputs(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.cfg.model.latent_dim, generator=generator)

    def train_step(self, batch) -> dict[str, torch.Tensor]:
        real = batch.image
        z = torch.randn(real.shape[0], self.cfg.model.latent_dim, device=self.device)
        self.g.train()
        fake = self.g(z)

        # D: maximise log D(x) + log(1 - D(G(z)))
        real_logits = self.d(real)
        fake_logits = self.d(fake.detach())
        loss_d = d_loss_nonsaturating(real_logits, fake_logits)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        # G: maximise log D(G(z)) (non-saturating), through the updated D
        gen_logits = self.d(fake)
        loss_g = g_loss_nonsaturating(gen_logits)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        if self.ema is not None:
            self.ema.update(self.g)

        return {
            "loss_d": loss_d.detach(),
            "loss_g": loss_g.detach(),
            "d_real": torch.sigmoid(real_logits.detach()).mean(),  # D(x): the seeds' "real score"
            "d_fake": torch.sigmoid(fake_logits.detach()).mean(),  # D(G(z)) before the D update
        }

    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.ema is not None:
            state["ema_updates"] = self.ema.updates
        return state

    def load_state_dict(self, state: dict, nets_only: bool = False) -> None:
        super().load_state_dict(state, nets_only)
        if self.ema is not None:
            self.ema.updates = int(state.get("ema_updates", 0))

    @torch.no_grad()
    def generate(self, inputs: torch.Tensor) -> torch.Tensor:
        g = self.ema.net if self.ema is not None else self.g
        was_training = g.training
        # Standing BatchNorm statistics from fresh noise (its own generator: the training RNG stream is
        # untouched), then eval mode: samples do not depend on which other samples share their batch.
        gen = seeded(5)
        standing_batchnorm_stats(g, lambda i: torch.randn(128, self.cfg.model.latent_dim, generator=gen)
                                 .to(self.device))
        g.eval()
        out = torch.cat([g(z.to(self.device)) for z in inputs.split(256)])
        g.train(was_training)
        return out
