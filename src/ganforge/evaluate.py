"""``ganforge evaluate``: score checkpoints (or two image folders) with a stated protocol.

What is compared, by recipe:
  generative (dcgan, mlp, wgangp, cgan, cdcgan)  ``n`` samples against ``n`` real images of ``--real``
                                                 (default: the run's data, its test split when it has one)
  pix2pix                                        outputs against targets of the validation pairs; also L1,
                                                 PSNR and SSIM between them
  cyclegan                                       fake_B = G_AB(test A) against test B, and fake_A against A
  2-D toys                                       the mode metrics (modes, high_quality, reverse_kl)
Metrics (``--metrics``): ``fid`` (Frechet distance over the extractor's features: "FID" for the Inception
weights, "FD[classifier:NAME]" otherwise), ``kid`` (unbiased, cubic polynomial kernel, 100 subsets of up to
1000; reported x 1000, as usually quoted), ``is`` (10 splits), ``pr``
(precision/recall, k = 3), ``acc`` (conditional models: the classifier's accuracy on ``--class K`` samples).
Each result row holds its protocol: extractor and weights hash, image counts, the real data and split, the
image size and resize, the seed. Real features are cached on disk keyed by data, preprocessing, extractor
and count. Rows are appended to the run's ``eval.jsonl``; ``--checkpoints all`` scores every epoch checkpoint,
draws ``eval_<metric>.png`` and copies the best one to ``best.pt``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import checkpoint
from .config import DataConfig, from_dict
from .data.loader import Data
from .data.sources import detect
from .errors import GanforgeError
from .files import atomic_write, read_json
from .metrics.extractors import Extractor, describe
from .metrics.ranking import main_metric
from .paths import cache_dir, write_cache
from .sampling import load_recipe

METRIC_NAMES = ("fid", "kid", "is", "pr", "acc")
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
    """Features, logits and labels (if any) of the first ``n`` real images, cached on disk by data,
    preprocessing, extractor and count."""
    c = data.cfg
    key = f"{data.key}|{c.split}|{c.image_size}|{c.channels}|{c.resize}|{ex.weights_sha256}|{n}"
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


def _min_count(metrics: list[str], n_real: int, n_fake: int) -> None:
    need = {"fid": 2, "kid": 2, "pr": 4, "is": 10}
    for m in metrics:
        if m in need and min(n_real, n_fake) < need[m]:
            raise GanforgeError(f"--metrics {m} needs at least {need[m]} images of each set; got {n_real} real and "
                                f"{n_fake} generated (raise --n, or give more images)")


def distribution_scores(ex: Extractor, metrics: list[str], real: tuple[np.ndarray, np.ndarray],
                        fake: tuple[np.ndarray, np.ndarray], seed: int, prefix: str = "") -> dict[str, float]:
    from .metrics.scores import fid_from_features, inception_score, kid, precision_recall

    _min_count(metrics, len(real[0]), len(fake[0]))
    out: dict[str, float] = {}
    if "fid" in metrics:
        out[prefix + ex.fd_label] = fid_from_features(real[0], fake[0])
    if "kid" in metrics:
        mean, std = kid(real[0], fake[0], seed=seed)
        kid_label = "KID" + (ex.fd_label[2:] if ex.fd_label != "FID" else "")  # KID or KID[classifier:NAME]
        out[prefix + kid_label] = 1000 * mean  # x 1000, as KID is usually quoted
        out[prefix + kid_label + "_std"] = 1000 * std
    if "is" in metrics:
        mean, std = inception_score(fake[1], splits=10)
        out[prefix + ex.is_label] = mean
        out[prefix + ex.is_label + "_std"] = std
    if "pr" in metrics:
        p, r = precision_recall(real[0], fake[0], k=3)
        out[prefix + "precision"], out[prefix + "recall"] = p, r
    return out


# --------------------------------------------------------------------------------------------------
# One checkpoint


def _generated(recipe: Any, n: int, seed: int, label: int | None = None) -> Iterator[torch.Tensor]:
    from .rng import seeded

    gen = seeded(seed, 4)
    done = 0
    while done < n:
        k = min(CHUNK, n - done)
        labels = None if label is None else torch.full((k,), label, dtype=torch.long)
        yield recipe.generate(recipe.sample_inputs(k, gen, labels)).float().cpu()
        done += k


def evaluate_checkpoint(path: str | Path, metrics: list[str], ex: Extractor | None, real: str | None, split: str | None,
                        n: int, seed: int, device: str = "cpu") -> dict[str, Any]:
    """Scores of one checkpoint with their protocol (one ``eval.jsonl`` row)."""
    recipe, ckpt = load_recipe(path, device)
    cfg = from_dict(ckpt["config"])
    dev = torch.device(device)
    row: dict[str, Any] = {"checkpoint": str(path), "step": ckpt["step"], "epoch": ckpt["epoch"], "recipe": cfg.recipe}
    proto: dict[str, Any] = {"seed": seed, "image_size": cfg.data.image_size}
    torch.manual_seed(seed)
    if recipe.data.points:  # 2-D toys
        from .data.sources import open_source
        from .data.toy import mode_metrics
        from .sampling import sample

        pts = sample(recipe, n, seed).float().cpu().numpy()
        row.update({k: float(v) for k, v in mode_metrics(pts, open_source(cfg.data).toy).items()})
        proto.update(n_fake=n, real=cfg.data.source)
        return {**row, "protocol": proto}
    if ex is None:
        raise GanforgeError("no extractor: give --extractor inception or classifier:PATH")
    proto.update(describe(ex))
    if getattr(recipe, "translates", False):
        return {**row, **_translation_scores(recipe, cfg, metrics, ex, n, seed, dev, proto), "protocol": proto}
    spec = real or cfg.data.source
    data, used_split = _real_split(spec, split, cfg.data, n, dev)
    *r, real_labels = real_features(ex, data, n)
    f = _features(ex, _generated(recipe, n, seed))
    row.update(distribution_scores(ex, [m for m in metrics if m != "acc"], (r[0], r[1]), f, seed))
    proto.update(n_real=len(r[0]), n_fake=len(f[0]), real=data.description, split=used_split, resize="shorter side, "
                 "centre crop (bicubic)" + (", then bilinear to 299 (Inception)" if ex.name == "inception" else ""))
    if "acc" in metrics:
        row.update(_class_accuracy(recipe, ex, n, seed, r[0], real_labels))
    return {**row, "protocol": proto}


def _real_split(spec: str, split: str | None, dcfg: DataConfig, n: int, dev: torch.device) -> tuple[Data, str]:
    """The real data: ``split`` if given, else the test split when the data has one, else the training split.
    Built-in data has no splits: its held-out images come from the next generator seed."""
    if spec.startswith("builtin:"):
        seed = dcfg.builtin_seed + (0 if split == dcfg.split else 1)
        return real_data(spec, "", dcfg.image_size, dcfg.channels, n, dev, seed), f"generator seed {seed}"
    folder = Path(spec.split(":", 1)[1] if spec.startswith(("folder:", "classes:")) else spec).expanduser()
    for s in [split] if split else ["test", dcfg.split]:
        if not split and s == "test" and folder.is_dir() and detect(folder) == "folder" and not (folder / s).is_dir():
            continue  # an image folder without test/: reading it with split=test would read everything
        try:
            return real_data(spec, s, dcfg.image_size, dcfg.channels, n, dev), s
        except GanforgeError:
            if split:
                raise
    return real_data(spec, dcfg.split, dcfg.image_size, dcfg.channels, n, dev), dcfg.split


def _class_accuracy(recipe: Any, ex: Extractor, n: int, seed: int, real: np.ndarray,
                    real_labels: np.ndarray | None) -> dict[str, float]:
    """The classifier's accuracy on ``n / K`` samples of each class K, and per-class Frechet distances against
    the real images of that class (when the real data has labels and at least 2 images of the class)."""
    from .metrics.scores import fid_from_features

    names = recipe.data.class_names
    if not getattr(recipe, "conditional", False) or not names:
        raise GanforgeError(f"--metrics acc needs a class-conditional model; {recipe.cfg.recipe} is unconditional")
    if ex.class_names is None or tuple(ex.class_names) != tuple(names):
        raise GanforgeError(f"--metrics acc needs a classifier trained on the same classes ({', '.join(names)}); "
                            f"{ex.name} has {', '.join(ex.class_names or ('none',))}")
    per = max(2, n // len(names))
    hits, out = [], {}
    for k, name in enumerate(names):
        feats, logits = _features(ex, _generated(recipe, per, seed + k, label=k))
        hits.append(float((logits.argmax(1) == k).mean()))
        out[f"class_acc[{name}]"] = hits[-1]
        if real_labels is not None and (real_labels == k).sum() >= 2:
            out[f"{ex.fd_label}[{name}]"] = fid_from_features(real[real_labels == k], feats)
    return {"class_acc": float(np.mean(hits)), **out}


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
    dist = [m for m in metrics if m in ("fid", "kid", "pr", "is")]
    if recipe.data_kind == "pairs":
        from .metrics.paired import paired_scores

        fake = torch.cat([recipe.translate(x[i : i + CHUNK]).float().cpu() for i in range(0, len(x), CHUNK)])
        s = paired_scores(fake, y.cpu())
        out.update({k: float(v.mean()) for k, v in s.items()})
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


def folder_channels(fake: str, real: str, channels: int | None) -> int:
    """Both folders at ``channels``; unset, the channel count they share (grayscale and colour: an error)."""
    from .data.images import folder_mode

    modes = {d: folder_mode(Path(d).expanduser()) for d in (fake, real)}
    if channels is not None:
        return channels
    if len(set(modes.values()) - {""}) > 1:
        raise GanforgeError(f"image folders of different channel counts: {fake} is {modes[fake]}, {real} is "
                            f"{modes[real]}; pass --channels 1 or 3 to convert both")
    return 1 if "gray" in modes.values() else 3


def evaluate_folders(fake: str, real: str, metrics: list[str], ex: Extractor, size: int, channels: int | None, n: int,
                     seed: int, device: str = "cpu") -> dict[str, Any]:
    dev = torch.device(device)
    for d in (fake, real):
        if not Path(d).expanduser().is_dir():
            raise GanforgeError(f"{d!r} is not a folder of images")
    channels = folder_channels(fake, real, channels)
    f_data, r_data = real_data(fake, "", size, channels, n, dev), real_data(real, "", size, channels, n, dev)
    f, r = _features(ex, (b.image for b in f_data.ordered(CHUNK, n))), real_features(ex, r_data, n)[:2]
    row = distribution_scores(ex, [m for m in metrics if m != "acc"], r, f, seed)
    proto = {**describe(ex), "n_real": len(r[0]), "n_fake": len(f[0]), "real": r_data.description,
             "fake": f_data.description, "image_size": size, "resize": "shorter side, centre crop", "seed": seed}
    return {**row, "protocol": proto}


def checkpoints_of(source: Path, which: str) -> list[Path]:
    if source.is_file():
        return [source]
    if which == "last":
        return [source / "last.pt"]
    if which == "best":
        if not (source / "best.pt").is_file():
            raise GanforgeError(f"no best.pt in {source}: run `ganforge evaluate {source} --checkpoints all` first")
        return [source / "best.pt"]
    found = sorted((source / "checkpoints").glob("epoch_*.pt"))
    if not found:
        raise GanforgeError(f"no epoch checkpoints in {source / 'checkpoints'} (keep them all with train.keep_checkpoints=0)")
    return found


def append_rows(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    with open(run_dir / "eval.jsonl", "a", encoding="utf-8") as fh:
        fh.writelines(json.dumps({**r, "time": round(time.time(), 1)}) + "\n" for r in rows)


def mark_best(run_dir: Path, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Copy the best-scoring checkpoint to ``best.pt`` (atomically) and return its row."""
    scored = [(r, main_metric(r)) for r in rows]
    scored = [(r, m) for r, m in scored if m]
    if not scored:
        return None
    key, higher = scored[0][1]  # type: ignore[misc]
    best = (max if higher else min)((r for r, _ in scored if key in r), key=lambda r: r[key])
    (run_dir / "best.json").unlink(missing_ok=True)
    update_best(run_dir, best)
    return best


def plot_metric(run_dir: Path, rows: list[dict[str, Any]], best: dict[str, Any] | None) -> Path | None:
    m = main_metric(rows[0]) if rows else None
    if m is None or len(rows) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = m[0]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot([r["epoch"] for r in rows], [r[key] for r in rows], marker="o")
    if best is not None:
        ax.scatter([best["epoch"]], [best[key]], s=120, facecolors="none", edgecolors="red", label="best.pt", zorder=3)
        ax.legend()
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    safe = "".join(ch if ch.isalnum() else "_" for ch in key).strip("_")
    out = run_dir / f"eval_{safe}.png"
    try:
        atomic_write(out, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)
    return out


def check_metrics(text: str, key: str = "--metrics") -> list[str]:
    ms = [m.strip().lower() for m in text.split(",") if m.strip()]
    bad = [m for m in ms if m not in METRIC_NAMES]
    if bad or not ms:
        raise GanforgeError(f"{key} {text!r}: unknown {', '.join(bad) or 'empty list'}; choices: {', '.join(METRIC_NAMES)}")
    return ms


def update_best(run_dir: Path, row: dict[str, Any]) -> bool:
    """During training: copy ``row``'s checkpoint to ``best.pt`` when it beats the best so far (``best.json``)."""
    m = main_metric(row)
    if m is None:
        return False
    key, higher = m
    path = run_dir / "best.json"
    old = read_json(path, missing={}, damaged={})  # a damaged best.json is replaced
    if old and old.get("key") == key and (row[key] <= old["value"] if higher else row[key] >= old["value"]):
        return False

    def copy(f: Any) -> None:
        with open(row["checkpoint"], "rb") as src:
            shutil.copyfileobj(src, f, 1 << 20)

    atomic_write(run_dir / "best.pt", copy, fsync=True)
    atomic_write(path, json.dumps({"key": key, "value": row[key], "epoch": row["epoch"], "step": row["step"],
                                   "checkpoint": row["checkpoint"]}))
    return True


def needs_extractor(path: Path) -> bool:
    """Toy runs are scored by their mode metrics alone."""
    ck = checkpoint.load(path)
    return not ck.get("data_info", {}).get("points")

