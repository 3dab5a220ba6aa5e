"""``ganforge evaluate``: score checkpoints (or two image folders) with a stated protocol.

What is compared, by recipe:
  generative (dcgan, mlp, wgangp, cgan, cdcgan)  ``n`` samples against ``n`` real images of ``--real``
                                                 (default: the run's data, its test split when it has one)
  pix2pix                                        outputs against targets of the validation pairs; also L1,
                                                 PSNR and SSIM between them
  cyclegan                                       fake_B = G_AB(test A) against test B, and fake_A against A
  2-D toys                                       the mode metrics (modes, high_quality, reverse_kl)
Metrics (``--metrics``) are the registered ones (``ganforge.metrics.METRICS``): ``fid`` (Frechet distance over the
extractor's features: "FID" for the Inception weights, "FD[classifier:NAME]" otherwise), ``kid`` (as ``KIDx1000``),
``is``, ``pr``, ``acc`` (conditional models); each says what it needs, and this module provides it. Each result
row holds its protocol: extractor and weights hash, image counts, the real data and split, the image size and
resize, the seed. Real features are cached on disk keyed by data, preprocessing, extractor and count. The run
directory's record (eval.jsonl, best.pt, the curve) is kept by ``eval_log.py``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import checkpoint
from .config import DataConfig
from .configure import from_dict
from .data.loader import Data
from .data.sources import detect
from .errors import GanforgeError
from .kinds import Kind
from .metrics import METRICS, Inputs
from .metrics.base import check_count
from .metrics.extractors import Extractor, describe
from .paths import cache_dir, write_cache
from .sampling import load_recipe, sample_chunks

CHUNK = 250  # images generated and featurised at a time


# --------------------------------------------------------------------------------------------------
# Features


def _features(ex: Extractor, batches: Iterator[torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
    feats, logits = [], []
    for x in batches:
        f, lg = ex.features(x)
        feats.append(f.numpy())
        logits.append(lg.numpy())
    if not feats:
        raise GanforgeError("no images to evaluate")
    return np.concatenate(feats).astype(np.float64), np.concatenate(logits)


def real_data(spec: str, split: str, size: int, channels: int, n: int, device: torch.device,
              builtin_seed: int = 0) -> Data:
    cfg = DataConfig(source=spec, split=split, image_size=size, channels=channels, resize="shorter", crop="center",
                     limit=n, in_memory="auto", builtin_n=max(n, 1), builtin_seed=builtin_seed)
    return Data(cfg, 1, 0, device)


def real_features(ex: Extractor, data: Data, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Features, logits and labels (if any) of ``n`` real images (``loader.limited``'s), cached on disk by data,
    preprocessing, extractor and count."""
    c = data.cfg
    # "spread": the subset of a class folder covers its classes (caches from before held its first classes)
    key = f"{data.key}|{c.split}|{c.image_size}|{c.channels}|{c.resize}|{ex.weights_sha256}|{n}|spread"
    path = cache_dir() / "stats" / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".npz")
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return z["features"], z["logits"], (z["labels"] if "labels" in z.files else None)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache entry is computed again
    labels: list[np.ndarray] = []

    def images() -> Iterator[torch.Tensor]:
        for b in data.ordered(CHUNK, n):
            if b.label is not None:
                labels.append(b.label.cpu().numpy())
            yield b.image

    feats, logits = _features(ex, images())
    lab = np.concatenate(labels) if labels else None
    arrays = {"features": feats.astype(np.float32), "logits": logits.astype(np.float32),
              **({"labels": lab} if lab is not None else {})}
    write_cache(path, lambda f: np.savez(f, **arrays))
    return feats, logits, lab


def distribution_scores(ex: Extractor, metrics: list[str], real: tuple[np.ndarray, np.ndarray],
                        fake: tuple[np.ndarray, np.ndarray], seed: int, prefix: str = "") -> dict[str, float]:
    """The requested metrics that need only real and generated features (METRICS: ``needs`` within real, fake)."""
    out: dict[str, float] = {}
    inputs = Inputs(seed=seed, real=real, fake=fake, fd_label=ex.fd_label, is_label=ex.is_label)
    for name in metrics:
        m = METRICS.get(name)
        if not m.needs <= {"real", "fake"}:
            continue
        check_count(m, len(real[0]), len(fake[0]))
        out.update({prefix + k: v for k, v in m.compute(inputs).items()})
    return out


# --------------------------------------------------------------------------------------------------
# One checkpoint


def _generated(recipe: Any, n: int, seed: int, label: int | None = None) -> Iterator[torch.Tensor]:
    """The images ``ganforge sample --seed SEED`` draws, CHUNK at a time, on the CPU."""
    return (x.float().cpu() for x in sample_chunks(recipe, n, seed, label, chunk=CHUNK))


def evaluate_checkpoint(path: str | Path, metrics: list[str], ex: Extractor | None, real: str | None, split: str | None,
                        n: int, seed: int, device: str = "cpu") -> dict[str, Any]:
    """Scores of one checkpoint with their protocol (one ``eval.jsonl`` row)."""
    recipe, ckpt = load_recipe(path, device)
    cfg = from_dict(ckpt["config"])
    dev = torch.device(device)
    row: dict[str, Any] = {"checkpoint": str(path), "step": ckpt["step"], "epoch": ckpt["epoch"], "recipe": cfg.recipe}
    proto: dict[str, Any] = {"seed": seed, "image_size": cfg.data.image_size}
    torch.manual_seed(seed)
    if recipe.kind is Kind.POINTS:  # 2-D toys
        from .data.sources import open_source
        from .sampling import sample

        pts = sample(recipe, n, seed).float().cpu().numpy()
        row.update(METRICS.get("toy").compute(Inputs(seed=seed, points=pts, toy=open_source(cfg.data).toy)))
        proto.update(n_fake=n, real=cfg.data.source)
        return {**row, "protocol": proto}
    if ex is None:
        raise GanforgeError("no extractor: give --extractor inception or classifier:PATH")
    proto.update(describe(ex))
    if recipe.kind is Kind.TRANSLATOR:
        return {**row, **_translation_scores(recipe, cfg, metrics, ex, n, seed, dev, proto), "protocol": proto}
    needs = set().union(*(METRICS.get(m).needs for m in metrics))
    if needs & {"real", "fake", "classes"}:
        spec = real or cfg.data.source
        data, used_split = _real_split(spec, split, cfg.data, n, dev)
        *r, real_labels = real_features(ex, data, n)
        f = _features(ex, _generated(recipe, n, seed))
        row.update(distribution_scores(ex, metrics, (r[0], r[1]), f, seed))
        proto.update(n_real=len(r[0]), n_fake=len(f[0]), real=data.description, split=used_split, resize="shorter side, "
                     "centre crop (bicubic)" + (", then bilinear to 299 (Inception)" if ex.name == "inception" else ""))
        if "acc" in metrics:
            row.update(_class_accuracy(recipe, ex, n, seed, (r[0], r[1]), real_labels))
    if "channels" in needs:
        row.update(_channel_modes(recipe, ex, n, seed))
        proto.update(n_fake=n, modes="each channel read as a grey image by the extractor")
    return {**row, "protocol": proto}


def _channel_modes(recipe: Any, ex: Extractor, n: int, seed: int) -> dict[str, float]:
    """The metric ``modes``: the extractor's class logits of each colour channel of ``n`` samples."""
    logits = []
    for x in _generated(recipe, n, seed):
        b, c = x.shape[:2]
        _, lg = ex.features(x.reshape(b * c, 1, *x.shape[2:]))  # each channel as a grey image
        logits.append(lg.numpy().reshape(b, c, -1))
    return METRICS.get("modes").compute(Inputs(seed=seed, channel_logits=np.concatenate(logits)))


def _real_split(spec: str, split: str | None, dcfg: DataConfig, n: int, dev: torch.device) -> tuple[Data, str]:
    """The real data: ``split`` if given, else the test split when the data has one, else the training split.
    Built-in data has no splits: its held-out images come from the next generator seed."""
    if spec.startswith("builtin:"):
        seed = dcfg.builtin_seed + (0 if split == dcfg.split else 1)
        return real_data(spec, "", dcfg.image_size, dcfg.channels, n, dev, seed), f"generator seed {seed}"
    folder = Path(spec.split(":", 1)[1] if spec.startswith(("folder:", "classes:")) else spec).expanduser()
    if split and split != dcfg.split and folder.is_dir() and detect(folder) == "folder" and not (folder / split).is_dir():
        subs = sorted(d.name for d in folder.iterdir() if d.is_dir())[:8]
        raise GanforgeError(f"--split {split}: the image folder {folder} has no {split}/ sub-folder (it has "
                            f"{', '.join(subs) or 'none'}); leave out --split for test/, else train/, else all its images")
    for s in [split] if split else ["test", dcfg.split]:
        if not split and s == "test" and folder.is_dir() and detect(folder) == "folder" and not (folder / s).is_dir():
            continue  # an image folder without test/: reading it with split=test would read everything
        try:
            return real_data(spec, s, dcfg.image_size, dcfg.channels, n, dev), s
        except GanforgeError:
            if split:
                raise
    return real_data(spec, dcfg.split, dcfg.image_size, dcfg.channels, n, dev), dcfg.split


def _class_accuracy(recipe: Any, ex: Extractor, n: int, seed: int, real: tuple[np.ndarray, np.ndarray],
                    real_labels: np.ndarray | None) -> dict[str, float]:
    """The metric ``acc`` on ``n / K`` samples of each class K (and per-class Frechet distances against the real
    images of that class, when the real data has labels)."""
    names = recipe.data.class_names
    if recipe.kind is not Kind.CONDITIONAL or not names:
        raise GanforgeError(f"--metrics acc needs a class-conditional model; {recipe.cfg.recipe} is unconditional")
    per = max(2, n // len(names))
    inputs = Inputs(seed=seed, real=real, fd_label=ex.fd_label, is_label=ex.is_label, real_labels=real_labels,
                    class_names=tuple(names), extractor_classes=ex.class_names,
                    fake_of_class=lambda k: _features(ex, _generated(recipe, per, seed + k, label=k)))
    return METRICS.get("acc").compute(inputs)


def _translation_scores(recipe: Any, cfg: Any, metrics: list[str], ex: Extractor, n: int, seed: int,
                        dev: torch.device, proto: dict[str, Any]) -> dict[str, float]:
    from .data.open import open_data

    val = open_data(cfg.data, 1, cfg.train.seed, dev, recipe.data_kind, val_images=n)
    if val is None:
        raise GanforgeError("this run's data has no validation or test images to evaluate on")
    inputs, targets = [], []
    for b in val.ordered(CHUNK, n):
        inputs.append(b.image)
        targets.append(b.target)
    x, y = torch.cat(inputs), torch.cat(targets)
    out: dict[str, float] = {}
    proto.update(real=val.description, resize="whole image resized to the crop size (stretch)")
    dist = [m for m in metrics if METRICS.get(m).needs <= {"real", "fake"}]
    if recipe.data_kind == "pairs":
        fake = torch.cat([recipe.translate(x[i : i + CHUNK]).float().cpu() for i in range(0, len(x), CHUNK)])
        out.update(METRICS.get("paired").compute(Inputs(seed=seed, outputs=fake, targets=y.cpu())))
        if dist:
            out.update(distribution_scores(ex, dist, _features(ex, iter(y.cpu().split(CHUNK))),
                                           _features(ex, iter(fake.split(CHUNK))), seed))
        proto.update(n_real=len(y), n_fake=len(fake))
        return out
    for direction, src, dst in (("AtoB", x, y), ("BtoA", y, x)):  # cyclegan: each direction against its target domain
        fake = torch.cat([recipe.translate(src[i : i + CHUNK], direction).float().cpu() for i in range(0, len(src), CHUNK)])
        out.update(distribution_scores(ex, dist, _features(ex, iter(dst.cpu().split(CHUNK))),
                                       _features(ex, iter(fake.split(CHUNK))), seed, prefix=f"{direction}:"))
    proto.update(n_real=len(x), n_fake=len(x))
    return out


# --------------------------------------------------------------------------------------------------
# Folders, runs, best checkpoints


def spec_mode(spec: str) -> str:
    """'gray', 'colour' or '' (unknown) for a data spec of images, without decoding it (a toy spec is an error)."""
    from .data.builtin import BUILTIN_DATA
    from .data.images import folder_mode
    from .data.sources import DATASETS, FETCHABLE

    spec = spec.strip()
    kind, sep, rest = spec.partition(":")
    if not (sep and kind in DATASETS and not (len(kind) == 1 and kind.isalpha())):  # as open_source reads it
        p = Path(spec).expanduser()
        kind, rest = (spec, "") if spec in FETCHABLE else (detect(p), str(p)) if p.is_dir() else ("", spec)
    if kind == "toy":
        raise GanforgeError(f"--real {spec}: 2-D points are not images; toy runs are scored with `ganforge evaluate RUN`")
    if kind in ("mnist", "fashion-mnist"):
        return "gray"
    if kind in ("cifar10", "stacked-mnist"):
        return "colour"
    if kind == "builtin":
        return "gray" if BUILTIN_DATA.get(rest)(n=1, size=8, seed=0).images.shape[-1] == 1 else "colour"
    return folder_mode(Path(rest).expanduser()) if rest and Path(rest).expanduser().is_dir() else ""


def folder_channels(fake: str, real: str, channels: int | None) -> int:
    """Both sets at ``channels``; unset, the channel count they share (grayscale and colour: an error). ``fake`` is
    a folder of images, ``real`` any data spec."""
    from .data.images import folder_mode

    modes = {fake: folder_mode(Path(fake).expanduser()), real: spec_mode(real)}
    if channels is not None:
        return channels
    if len(set(modes.values()) - {""}) > 1:
        raise GanforgeError(f"images of different channel counts: {fake} is {modes[fake]}, {real} is "
                            f"{modes[real]}; pass --channels 1 or 3 to convert both")
    return 1 if "gray" in modes.values() else 3


def evaluate_folders(fake: str, real: str, metrics: list[str], ex: Extractor, size: int, channels: int | None, n: int,
                     seed: int, device: str = "cpu", split: str | None = None) -> dict[str, Any]:
    """A folder of generated images (``--fake``) against real images: ``real`` is any data spec ``train --data``
    takes (an image folder, ``mnist:PATH``, a folder of MNIST IDX files, ``cifar10:PATH``, ``builtin:pizza`` ...),
    read at ``split`` (default: test when the data has one, else train: all of a folder without train/)."""
    dev = torch.device(device)
    if not Path(fake).expanduser().is_dir():
        raise GanforgeError(f"--fake {fake!r} is not a folder of images")
    channels = folder_channels(fake, real, channels)
    f_data = real_data(fake, "", size, channels, n, dev)
    dcfg = DataConfig(source=real, image_size=size, channels=channels)
    r_data, used_split = _real_split(real, split, dcfg, n, dev)
    f, r = _features(ex, (b.image for b in f_data.ordered(CHUNK, n))), real_features(ex, r_data, n)[:2]
    row = distribution_scores(ex, metrics, r, f, seed)
    proto = {**describe(ex), "n_real": len(r[0]), "n_fake": len(f[0]), "real": r_data.description, "split": used_split,
             "fake": f_data.description, "image_size": size, "resize": "shorter side, centre crop", "seed": seed}
    return {**row, "protocol": proto}


# Decimals a score is printed with, by its name without a direction prefix (AtoB:) or [...] suffix; the stored
# values are not rounded. FID/FD and IS with 2 (as the papers quote them), KID x 1000 with 2, fractions with 3.
DECIMALS = {"FID": 2, "FD": 2, "KIDx1000": 2, "IS": 2, "precision": 3, "recall": 3, "class_acc": 3, "confidence": 3,
            "class_share_min": 3, "class_share_max": 3, "modes": 0, "modes_kl": 3, "modes_kl_channels": 3,
            "modes_tc": 3, "high_quality": 3, "reverse_kl": 3, "l1": 4, "psnr": 2, "ssim": 3}


def format_score(key: str, value: float, std: float | None = None) -> str:
    """``key value`` (``key value +- std``) with the score's usual precision (:data:`DECIMALS`, at least 3 significant
    digits below 1); other scores with 4 significant digits, and none in e-notation from 10,000 up (a KID of
    classifier features can run to millions)."""
    base = key.split(":", 1)[1] if key.startswith(("AtoB:", "BtoA:")) else key
    places = DECIMALS.get(base.split("[", 1)[0])

    def num(v: float) -> str:
        a = abs(v)
        if places is None:
            return f"{v:.1f}" if a >= 1e4 else f"{v:.4g}"
        if places == 0 or a >= 1 or a == 0 or not math.isfinite(a):
            return f"{v:.{places}f}"
        if a < 1e-4:
            return f"{v:.3g}"
        return f"{v:.{max(places, 2 - math.floor(math.log10(a)))}f}"  # below 1: at least 3 significant digits

    return f"{key} {num(value)}" + (f" +- {num(std)}" if std is not None else "")


def format_scores(row: dict[str, Any]) -> str:
    """The float scores of an evaluation row, each with its std where it has one: ``FID 23.41  KIDx1000 12.30 +-
    0.41  precision 0.712``."""
    return "  ".join(format_score(k, v, row.get(k + "_std")) for k, v in row.items()
                     if isinstance(v, float) and not k.endswith("_std"))


def needs_extractor(path: Path) -> bool:
    """Toy runs are scored by their mode metrics alone."""
    ck = checkpoint.load(path)
    return not ck.get("data_info", {}).get("points")

