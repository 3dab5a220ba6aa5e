"""The GAN family's presets (dcgan, cdcgan, wgangp, mlp, cgan and the 2-D toys), registered in ``PRESETS``.

The DCGAN numbers follow the paper and pytorch/examples/dcgan (Adam 2e-4, betas (0.5, 0.999), batch 64/128,
N(0, 0.02) init); WGAN-GP's follow Gulrajani et al.; the dense GAN and cGAN follow the seeds.
"""

from __future__ import annotations

from typing import Any

from .base import PRESETS, Preset


def _dcgan(source: str, size: int, channels: int, batch: int, epochs: int, **data: Any) -> dict[str, Any]:
    return {
        "recipe": "dcgan",
        "model": {"latent_dim": 100, "g_width": 64, "d_width": 64, "ema": 0.999},
        "data": {"source": source, "image_size": size, "channels": channels, **data},
        "optim": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999},
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


def _wgangp(source: str, size: int, latent: int, batch: int, epochs: int, **model: Any) -> dict[str, Any]:
    return {
        "recipe": "wgangp",
        "model": {"latent_dim": latent, "g_width": 64, "d_width": 64, "loss": "wasserstein", "gp": 10.0,
                  "n_critic": 5, "d_norm": "layer", "ema": 0.999, **model},
        "data": {"source": source, "image_size": size, "channels": 3},
        "optim": {"lr": 1e-4, "beta1": 0.5, "beta2": 0.9},
        "train": {"batch_size": batch, "epochs": epochs},
    }


def _toy(name: str, epochs: int) -> dict[str, Any]:
    # Small MLPs in the spirit of the unrolled-GAN / PacGAN toy experiments; 64k points drawn once. Measured on
    # the ring (15 epochs): plain non-saturating loss collapses to 2-4 modes; R1 0.1 keeps all 8; with the EMA
    # of G, 67% of samples fall within 3 std of a mode and the reverse KL is 0.006.
    return {
        "recipe": "mlp",
        "model": {"latent_dim": 16, "g_hidden": [128, 128, 128], "d_hidden": [128, 128, 128], "g_batchnorm": False,
                  "r1": 0.1, "ema": 0.99},
        "data": {"source": f"toy:{name}", "builtin_n": 65536},
        "optim": {"lr": 1e-3, "beta1": 0.5, "beta2": 0.999},
        "train": {"batch_size": 256, "epochs": epochs, "log_every": 64},
    }


_ALL = {
    "dcgan-pizza": Preset(
        "offline demo: small DCGAN, 32x32 procedural pizzas (builtin:pizza), ~2 min on 2 CPU cores",
        {"recipe": "dcgan", "model": {"latent_dim": 64, "g_width": 32, "d_width": 32, "ema": 0.999},
         "data": {"source": "builtin:pizza", "image_size": 32, "channels": 3, "builtin_n": 4096},
         "optim": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999},
         "train": {"batch_size": 64, "epochs": 28, "log_every": 16}}),
    # Batch 64 rather than the example's 128: twice the updates per epoch, visibly better digits after one.
    "dcgan-mnist": Preset("DCGAN on MNIST at 32x32, 1 channel, batch 64, 5 epochs (data: mnist or --data PATH)",
                          _dcgan("mnist", 32, 1, 64, 5)),
    "dcgan-fashion-mnist": Preset("DCGAN on Fashion-MNIST at 32x32, 1 channel, batch 64, 10 epochs",
                                  _dcgan("fashion-mnist", 32, 1, 64, 10)),
    "dcgan-cifar10": Preset("DCGAN of pytorch/examples on CIFAR-10 resized to 64x64, batch 64, 30 epochs",
                            _dcgan("cifar10", 64, 3, 64, 30)),
    "dcgan-folder": Preset("DCGAN on any image folder (e.g. LSUN bedrooms) at 64x64, batch 128, 25 epochs",
                           _dcgan("", 64, 3, 128, 25), needs_data=True),
    "mlp-mnist": Preset("GAN of dense layers (256-512-1024, BatchNorm in G) on MNIST 28x28, batch 64, 20 epochs",
                        _mlp("mlp", "mnist", 20)),
    "mlp-fashion-mnist": Preset("GAN of dense layers on Fashion-MNIST 28x28, batch 64, 20 epochs",
                                _mlp("mlp", "fashion-mnist", 20)),
    "cgan-mnist": Preset("conditional GAN of dense layers on MNIST (one-hot label to G and D), 20 epochs; "
                         "samples one row per digit", _mlp("cgan", "mnist", 20)),
    "cgan-fashion-mnist": Preset("conditional GAN of dense layers on Fashion-MNIST, 20 epochs; one row per class",
                                 _mlp("cgan", "fashion-mnist", 20)),
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
    "toy-ring": Preset("2-D ring of 8 Gaussians (radius 2, std 0.02), MLP GAN with R1, ~30 s; scatter + mode metrics per epoch",
                       _toy("ring", 15)),
    "toy-grid": Preset("2-D 5x5 grid of Gaussians (spacing 2, std 0.05), MLP GAN; scatter + mode metrics per epoch",
                       _toy("grid", 15)),
    "toy-spiral": Preset("2-D spiral, MLP GAN; scatter + metrics per epoch", _toy("spiral", 15)),
}
for _name, _preset in _ALL.items():
    PRESETS.add(_name, _preset)
