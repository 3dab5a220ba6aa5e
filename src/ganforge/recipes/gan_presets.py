"""The GAN family's presets (dcgan, cdcgan, wgangp, mlp, cgan and the 2-D toys), registered in ``PRESETS``.

The DCGAN numbers follow the paper and pytorch/examples/dcgan (Adam 2e-4, betas (0.5, 0.999), batch 64/128,
N(0, 0.02) init); WGAN-GP's follow Gulrajani et al.; the dense GAN and cGAN follow the seeds.
"""

from __future__ import annotations

from typing import Any

from .base import PRESETS, Preset


def _dcgan(source: str, size: int, channels: int, batch: int, epochs: int, lr: float = 2e-4, **data: Any) -> dict[str, Any]:
    return {
        "recipe": "dcgan",
        "model": {"latent_dim": 100, "g_width": 64, "d_width": 64, "ema": 0.999},
        "data": {"source": source, "image_size": size, "channels": channels, **data},
        "optim": {"lr": lr, "beta1": 0.5, "beta2": 0.999},
        "train": {"batch_size": batch, "epochs": epochs},
    }


def _mlp(recipe: str, source: str, epochs: int, batchnorm: bool = True) -> dict[str, Any]:
    return {
        "recipe": recipe,
        "model": {"latent_dim": 100, "g_hidden": [256, 512, 1024], "d_hidden": [1024, 512, 256],
                  "g_batchnorm": batchnorm, "ema": 0.999},
        "data": {"source": source, "image_size": 28, "channels": 1},
        "optim": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999},
        "train": {"batch_size": 64, "epochs": epochs},
    }


def _cgan(source: str, epochs: int) -> dict[str, Any]:
    # The seeds' dense networks with the label given to D by projection (Miyato & Koyama) and an AC-GAN class head
    # (Odena et al.), batch 8 and lr 5e-4. Measured after one epoch of MNIST, 200 samples per class read by a
    # held-out classifier (docs/quality.md): the seeds' setting (label concatenated, batch 64, lr 2e-4) 12% of the
    # samples in their class; projection or AC-GAN alone 52%; both 57%, with lr 5e-4 76%, at batch 32 92%, at
    # batch 16 97%, at batch 8 98.3-98.7% (two seeds).
    layer = _mlp("cgan", source, epochs)
    layer["model"].update({"d_condition": "projection", "ac_weight": 1.0})
    layer["optim"]["lr"] = 5e-4
    layer["train"]["batch_size"] = 8
    return layer


def _wgangp(source: str, size: int, latent: int, batch: int, epochs: int, **model: Any) -> dict[str, Any]:
    return {
        "recipe": "wgangp",
        "model": {"latent_dim": latent, "g_width": 64, "d_width": 64, "loss": "wasserstein", "gp": 10.0,
                  "n_critic": 5, "d_norm": "layer", "ema": 0.999, **model},
        "data": {"source": source, "image_size": size, "channels": 3},
        "optim": {"lr": 1e-4, "beta1": 0.5, "beta2": 0.9},
        "train": {"batch_size": batch, "epochs": epochs},
    }


# The PacGAN geometry (Lin et al. 2018, Table 1): 8 Gaussians of std 0.01 on the unit circle, 25 of std 0.05 at
# {-4, -2, 0, 2, 4}^2; scored on 2,500 samples (`ganforge evaluate RUN --n 2500`).
PACGAN_RING = "toy:ring:modes=8,scale=1,std=0.01"


def _toy(source: str, epochs: int = 80) -> dict[str, Any]:
    # Small MLPs as in the unrolled-GAN / PacGAN toy experiments, 262,144 points drawn once (1,024 steps an epoch).
    # What reached PacGAN's numbers on 2 CPU cores (docs/quality.md): a 2-D latent (PacGAN's own num_zdim; with 16
    # dimensions 12% of the samples stayed on bridges between modes), R1 0.1 (without it the grid collapsed to 15
    # modes), an EMA of G, and long training with the lr decaying over the second half: the high-quality share
    # climbs steadily with steps (ring: 65% after 3,840 steps, 88% after 15,360, 96% after 51,200, 97.1% after 81,920).
    return {
        "recipe": "mlp",
        "model": {"latent_dim": 2, "g_hidden": [128, 128, 128], "d_hidden": [128, 128, 128], "g_batchnorm": False,
                  "r1": 0.1, "ema": 0.99},
        "data": {"source": source, "builtin_n": 262144},
        "optim": {"lr": 1e-3, "beta1": 0.5, "beta2": 0.999, "decay": 0.5},
        "train": {"batch_size": 256, "epochs": epochs, "log_every": 256},
    }


_ALL = {
    "dcgan-pizza": Preset(
        "offline demo: small DCGAN, 32x32 procedural pizzas (builtin:pizza), ~2 min on 2 CPU cores",
        {"recipe": "dcgan", "model": {"latent_dim": 64, "g_width": 32, "d_width": 32, "ema": 0.999},
         "data": {"source": "builtin:pizza", "image_size": 32, "channels": 3, "builtin_n": 4096},
         "optim": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999},
         "train": {"batch_size": 64, "epochs": 28, "log_every": 16}}),
    # The paper's networks; batch 16 and lr 4e-4 rather than the example's 128 and 2e-4: 8x the updates per epoch.
    # Measured after one epoch by a held-out MNIST classifier (docs/quality.md): batch 64 FD 53 / confidence 0.78,
    # batch 32 FD 36 / 0.83, batch 16 FD 30 / 0.85, batch 16 with lr 4e-4 FD 22 / 0.86, about what the example's
    # setting reaches after five epochs (FD 19 / 0.87); batch 8 was no better (BatchNorm over 8 samples).
    "dcgan-mnist": Preset("DCGAN on MNIST at 32x32, 1 channel, batch 16, lr 4e-4, 5 epochs (~9 min; data: mnist or "
                          "--data PATH)", _dcgan("mnist", 32, 1, 16, 5, lr=4e-4)),
    "dcgan-fashion-mnist": Preset("DCGAN on Fashion-MNIST at 32x32, 1 channel, batch 64, 10 epochs",
                                  _dcgan("fashion-mnist", 32, 1, 64, 10)),
    "dcgan-stacked-mnist": Preset("DCGAN on StackedMNIST (3 MNIST digits as R, G, B: 1,000 modes) at 32x32, batch 64, "
                                  "5 epochs of 128,000 images (~12 min on 2 CPU cores); `ganforge evaluate --metrics "
                                  "modes`", _dcgan("stacked-mnist", 32, 3, 64, 5)),
    "dcgan-cifar10": Preset("DCGAN of pytorch/examples on CIFAR-10 resized to 64x64, batch 64, 30 epochs",
                            _dcgan("cifar10", 64, 3, 64, 30)),
    "dcgan-folder": Preset("DCGAN on any image folder (e.g. LSUN bedrooms) at 64x64, batch 128, 25 epochs",
                           _dcgan("", 64, 3, 128, 25), needs_data=True),
    "mlp-mnist": Preset("GAN of dense layers (256-512-1024, BatchNorm in G) on MNIST 28x28, batch 64, 20 epochs",
                        _mlp("mlp", "mnist", 20)),
    "mlp-fashion-mnist": Preset("GAN of dense layers on Fashion-MNIST 28x28, batch 64, 20 epochs",
                                _mlp("mlp", "fashion-mnist", 20)),
    "cgan-mnist": Preset("conditional GAN of dense layers on MNIST, label into D by projection + an AC-GAN head, "
                         "batch 8, 5 epochs (~7 min); one row per digit, 98% in their class after one epoch",
                         _cgan("mnist", 5)),
    "cgan-mnist-seed": Preset("the seeds' conditional GAN: dense layers, one-hot label appended to G's and D's "
                              "inputs, batch 64, 20 epochs (learns its classes slowly: 12% after one epoch)",
                              _mlp("cgan", "mnist", 20)),
    "cgan-fashion-mnist": Preset("conditional GAN of dense layers on Fashion-MNIST (as cgan-mnist), 5 epochs; one row "
                                 "per class", _cgan("fashion-mnist", 5)),
    "cdcgan-cifar10": Preset("conditional DCGAN on CIFAR-10 at 32x32 (label maps into D), batch 64, 30 epochs",
                             {**_dcgan("cifar10", 32, 3, 64, 30), "recipe": "cdcgan"}),
    "wgangp-cifar10": Preset("WGAN-GP (Gulrajani et al.) on CIFAR-10 at 32x32: n_critic 5, GP 10, Adam 1e-4 (0.5, 0.9)",
                             _wgangp("cifar10", 32, 128, 64, 30)),
    "wgangp-folder": Preset("WGAN-GP on any image folder at 64x64, batch 64, 20 epochs",
                            _wgangp("", 64, 128, 64, 20), needs_data=True),
    "wgangp-lsun-v1": Preset("the seed's WGAN-GP (1) for LSUN bedrooms (any folder): 64x64, batch 128, latent 128, "
                             "Dense(8192) G", _wgangp("", 64, 128, 128, 15), needs_data=True),
    "wgangp-lsun-v2": Preset("the seed's WGAN-GP (2): latent 1024, dropout 0.2 after each G conv, instance noise 0.001",
                             _wgangp("", 64, 1024, 128, 10, g_dropout=0.2, instance_noise=0.001), needs_data=True),
    "toy-ring": Preset("2-D ring of 8 Gaussians of std 0.01 on the unit circle (PacGAN's), MLP GAN with R1, ~7 min on 2 "
                       "CPU cores; scatter + mode metrics per epoch", _toy(PACGAN_RING)),
    "toy-grid": Preset("2-D 5x5 grid of Gaussians of std 0.05, spacing 2 (PacGAN's), MLP GAN with R1, ~7 min; scatter + "
                       "mode metrics per epoch", _toy("toy:grid")),
    "toy-spiral": Preset("2-D spiral, MLP GAN with R1, ~7 min; scatter + metrics per epoch", _toy("toy:spiral")),
}
for _name, _preset in _ALL.items():
    PRESETS.add(_name, _preset)
