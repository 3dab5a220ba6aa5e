"""A small domain classifier: the offline feature extractor behind ``FD[classifier:NAME]`` and class accuracy.

The Frechet Inception Distance needs Inception-v3 weights that cannot be fetched offline, so ganforge trains
its own extractor on the labelled data a GAN is trained on (``ganforge classifier train``): a small CNN whose
penultimate embedding (``feature_dim`` values after a ReLU) gives the Frechet distance between real and generated
images, reported as ``FD[classifier:NAME]``, and whose class probabilities give the class accuracy of conditional
samples (does ``--class 3`` draw threes?) and their class spread. The numbers are comparable only between runs
scored with the same classifier file; they are not FID and cannot be compared with Inception FID values from
papers.

A classifier is one self-describing file (``kind: ganforge-classifier``) written atomically and read with
``torch.load(weights_only=True)``: architecture sizes, class names, the data config it was trained on and its
test accuracy travel with the weights.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import checkpoint
from ..config import DataConfig, to_plain
from ..errors import GanforgeError
from ..rng import Stream, seeded

KIND = "ganforge-classifier"
CLASSIFIER_FORMAT = 1  # version of the classifier file's own fields (the checkpoint envelope has format_version)
HOLDOUT = 0.1  # share of the training set held out for the accuracy when the data has no test split
MAX_SHIFT = 2  # light augmentation: random translation by up to this many pixels
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601 luminance, as Pillow's RGB -> L


class DomainClassifier(nn.Module):
    """Three stages of [conv3x3-BN-ReLU, conv3x3-BN-ReLU, maxpool] (widths w, 2w, 4w), global average pool,
    Linear+ReLU to a ``feature_dim`` embedding (:meth:`embed`), Linear to ``n_classes`` logits (:meth:`forward`)."""

    def __init__(self, channels: int, image_size: int, n_classes: int, width: int = 32, feature_dim: int = 128) -> None:
        super().__init__()
        if channels not in (1, 3):
            raise GanforgeError(f"a classifier takes 1 or 3 channels; got {channels}")
        if not 16 <= image_size <= 64:
            raise GanforgeError(f"a classifier takes images of 16 to 64 pixels; got data.image_size={image_size}")
        if n_classes < 2:
            raise GanforgeError(f"a classifier needs at least 2 classes; the data has {n_classes}")
        self.channels, self.image_size, self.n_classes = channels, image_size, n_classes
        self.width, self.feature_dim = width, feature_dim
        layers: list[nn.Module] = []
        c_in = channels
        for c in (width, 2 * width, 4 * width):
            for k in range(2):
                layers += [nn.Conv2d(c_in if k == 0 else c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                           nn.ReLU(inplace=True)]
            layers.append(nn.MaxPool2d(2))
            c_in = c
        self.body = nn.Sequential(*layers)
        self.embedding = nn.Sequential(nn.Linear(4 * width, feature_dim), nn.ReLU(inplace=True))
        self.head = nn.Linear(feature_dim, n_classes)

    def _check(self, x: torch.Tensor) -> None:
        want = (self.channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(f"the classifier takes (N, {want[0]}, {want[1]}, {want[2]}) images; got {tuple(x.shape)}")

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, S, S) in [-1, 1] -> (N, feature_dim) features (after ReLU)."""
        self._check(x)
        return self.embedding(self.body(x).mean((2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, S, S) in [-1, 1] -> (N, n_classes) logits."""
        self._check(x)
        return self.head(self.embed(x))


# --------------------------------------------------------------------------------------------------
# Training


def _shift(x: torch.Tensor, gen: torch.Generator, s: int = MAX_SHIFT) -> torch.Tensor:
    """Translate each image by a random whole number of pixels in [-s, s], repeating the border."""
    n, c, h, w = x.shape
    padded = F.pad(x, (s, s, s, s), mode="replicate")
    oy = torch.randint(0, 2 * s + 1, (n,), generator=gen).to(x.device)
    ox = torch.randint(0, 2 * s + 1, (n,), generator=gen).to(x.device)
    rows = (oy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chan = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chan, rows, cols]


@torch.inference_mode()
def _accuracy(model: DomainClassifier, data: Any, indices: list[int], batch_size: int) -> float:
    from ..data.loader import augment

    cfg, gen = replace(data.cfg, crop="center", flip=False), torch.Generator()
    model.eval()
    right = 0
    chunks = [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]
    for x, y in data.raw_batches(chunks):
        right += int((model(augment(x, cfg, gen)).argmax(1) == y.to(x.device)).sum())
    return right / max(1, len(indices))


def _labelled(data: Any) -> bool:
    return bool(data.class_names) and not data.points_dim and not data.input_channels and (
        not data.in_memory or data.labels is not None)


def train_classifier(data_cfg: DataConfig, out: Path, epochs: int = 2, batch_size: int = 128, lr: float = 1e-3,
                     seed: int = 0, device: str = "cpu", test_split: str = "test", progress: bool = True,
                     width: int = 32, feature_dim: int = 128, augment_shift: bool = True) -> dict[str, Any]:
    """Train a :class:`DomainClassifier` on the labelled ``data_cfg`` and save it to ``out``; returns the summary.

    Adam (``lr``, cosine decay to 0) on cross-entropy, ``epochs`` passes over the training split with the data
    config's own crop/flip plus random shifts of up to 2 pixels (``augment_shift``). The accuracy is measured on
    ``test_split`` of the same source (all of it, centre-cropped); when the source has no such split (a folder
    without ``test/``, builtin data), 10% of the training set is held out instead and ``eval`` says so.
    """
    from ..data.loader import Data, augment
    from ..device import pick_device

    if epochs < 1:
        raise GanforgeError(f"classifier epochs must be at least 1; got {epochs}")
    dev = pick_device(device)
    out = Path(out)
    start = time.perf_counter()
    data = Data(data_cfg, batch_size, seed, dev)
    if not _labelled(data):
        raise GanforgeError(f"{data.description} has no class labels; a classifier needs labelled data "
                            f"(class sub-folders, MNIST, CIFAR-10 or a labelled builtin set)")
    class_names = [str(c) for c in data.class_names]

    # The evaluation set: the test split when the source has a separate one with the same classes.
    test_data, note = None, ""
    if test_split and test_split != data_cfg.split:
        try:
            cand = Data(replace(data_cfg, split=test_split, limit=0), 1, seed, dev)
        except GanforgeError as e:
            note = f"no {test_split!r} split ({e})"
        else:
            if cand.description == data.description:
                note = f"the source has no separate {test_split!r} split"
            elif not _labelled(cand) or [str(c) for c in cand.class_names] != class_names:
                note = f"the {test_split!r} split does not have the training classes"
            else:
                test_data = cand
    if test_data is not None:
        train_idx, eval_idx = list(range(data.n)), list(range(test_data.n))
        eval_desc = f"{test_split} split: {test_data.description}"
    else:
        all_idx = torch.randperm(data.n, generator=seeded(seed, 0, Stream.HOLDOUT)).tolist()
        n_hold = max(1, round(HOLDOUT * data.n))
        train_idx, eval_idx = sorted(all_idx[n_hold:]), sorted(all_idx[:n_hold])
        eval_desc = f"{n_hold} images held out of the training set ({int(HOLDOUT * 100)}%; {note or 'no test split'})"
        if len(train_idx) < batch_size:
            raise GanforgeError(f"{len(train_idx)} training images after holding out {n_hold} for the accuracy; "
                                f"fewer than the batch size {batch_size}")

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DomainClassifier(data_cfg.channels, data_cfg.image_size, len(class_names), width, feature_dim).to(dev)
    steps_per_epoch = len(train_idx) // batch_size
    total = epochs * steps_per_epoch
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    bar = None
    if progress:
        from ..progress import bar as progress_bar

        bar = progress_bar(total, unit="step", desc="classifier")
    step, order_src = 0, torch.tensor(train_idx)
    try:
        for epoch in range(epochs):
            model.train()
            perm = order_src[torch.randperm(len(train_idx), generator=seeded(seed, epoch, Stream.ORDER))]
            chunks = perm[: steps_per_epoch * batch_size].view(steps_per_epoch, batch_size).tolist()
            for x, y in data.raw_batches(chunks):
                gen = seeded(seed, step, Stream.AUGMENT)
                x = augment(x, data.cfg, gen)
                if augment_shift:
                    x = _shift(x, gen)
                loss = F.cross_entropy(model(x), y.to(x.device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                if bar is not None:
                    bar.update(1)
                    if step % 10 == 0 or step == total:
                        bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
    finally:
        if bar is not None:
            bar.close()
    train_seconds = time.perf_counter() - start
    acc = _accuracy(model, test_data or data, eval_idx, 256)
    summary: dict[str, Any] = {
        "kind": KIND, "classifier_format": CLASSIFIER_FORMAT, "data": to_plain(data_cfg),
        "data_description": data.description, "image_size": data_cfg.image_size, "channels": data_cfg.channels,
        "class_names": class_names, "n_classes": len(class_names), "width": width, "feature_dim": feature_dim,
        "test_accuracy": acc, "test_images": len(eval_idx), "eval": eval_desc, "held_out": test_data is None,
        "train_images": len(train_idx), "epochs": epochs, "steps": step, "batch_size": batch_size, "lr": lr,
        "seed": seed, "device": str(dev), "train_seconds": train_seconds, "seconds": time.perf_counter() - start,
        "torch_version": str(torch.__version__),
    }
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    checkpoint.save(out, {**summary, "state_dict": state})
    return {**summary, "path": str(out)}


# --------------------------------------------------------------------------------------------------
# Use


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> tuple[DomainClassifier, dict[str, Any]]:
    """The classifier saved by :func:`train_classifier` (in eval mode on ``device``) and its metadata."""
    p = Path(path)
    hint = "(train one with `ganforge classifier train`)"
    if not p.is_file():
        raise GanforgeError(f"no classifier file at {str(p)!r} {hint}")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch.load raises many kinds on foreign or damaged files; the cause stays chained
        raise GanforgeError(f"{str(p)!r} is not a ganforge classifier file {hint}") from e
    if not isinstance(ckpt, dict) or ckpt.get("kind") != KIND or "state_dict" not in ckpt:
        raise GanforgeError(f"{str(p)!r} is not a ganforge classifier file {hint}")
    if ckpt.get("classifier_format", 0) > CLASSIFIER_FORMAT:
        raise GanforgeError(f"classifier {str(p)!r} has format {ckpt['classifier_format']}; this ganforge reads up to "
                            f"{CLASSIFIER_FORMAT}: upgrade ganforge")
    model = DomainClassifier(ckpt["channels"], ckpt["image_size"], ckpt["n_classes"], ckpt.get("width", 32),
                             ckpt["feature_dim"])
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise GanforgeError(f"classifier {str(p)!r} is damaged: {' '.join(str(e).split())[:200]}") from None
    meta = {k: v for k, v in ckpt.items() if k != "state_dict"}
    return model.to(device).eval(), meta


def to_classifier_input(images: torch.Tensor, channels: int, image_size: int) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> (N, channels, image_size, image_size): RGB -> gray by luminance, gray -> RGB by
    repetition, antialiased bicubic resizing (like the data pipeline's Pillow BICUBIC), clamped to [-1, 1].

    Bicubic rather than bilinear: on MNIST test digits upscaled by the data pipeline to 24..128 pixels and brought
    back to 28, a small classifier recognised 92-95% after antialiased bicubic, 87-91% after antialiased bilinear;
    bilinear without antialiasing was as good only for integer factors and aliases generated images' noise.
    """
    if images.dim() != 4:
        raise ValueError(f"expected (N, C, H, W) images; got shape {tuple(images.shape)}")
    x = images.float()
    c = x.shape[1]
    if c != channels:
        if c == 3 and channels == 1:
            x = (x * x.new_tensor(LUMA)[None, :, None, None]).sum(1, keepdim=True)
        elif c == 1 and channels == 3:
            x = x.expand(-1, 3, -1, -1)
        else:
            raise ValueError(f"cannot convert {c}-channel images to the classifier's {channels} channels")
    if x.shape[2:] != (image_size, image_size):
        x = F.interpolate(x, size=(image_size, image_size), mode="bicubic", align_corners=False, antialias=True)
        x = x.clamp(-1.0, 1.0)  # bicubic overshoots at edges
    return x


@torch.inference_mode()
def classifier_features(model: DomainClassifier, images: torch.Tensor,
                        batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(features float32 (N, feature_dim), class probabilities float32 (N, n_classes)), both on the CPU.

    ``images`` (N, C, H, W) in [-1, 1], on any device, are converted to the classifier's channels and size
    (:func:`to_classifier_input`) batch by batch on the classifier's device; the model runs in eval mode.
    """
    if images.dim() != 4:
        raise ValueError(f"expected (N, C, H, W) images; got shape {tuple(images.shape)}")
    dev = next(model.parameters()).device
    was_training = model.training
    model.eval()
    feats, probs = [], []
    try:
        for start in range(0, len(images), batch_size):
            x = to_classifier_input(images[start : start + batch_size].to(dev), model.channels, model.image_size)
            f = model.embed(x)
            feats.append(f.float().cpu())
            probs.append(model.head(f).float().softmax(1).cpu())
    finally:
        model.train(was_training)
    if not feats:
        return torch.zeros(0, model.feature_dim), torch.zeros(0, model.n_classes)
    return torch.cat(feats), torch.cat(probs)


def name_of(path: str | Path) -> str:
    """The short name in metric labels: ``mnist`` for ``mnist_cls.pt`` (the stem without a trailing _cls/-cls)."""
    stem = Path(path).stem
    return re.sub(r"[_-]cls$", "", stem, flags=re.IGNORECASE) or stem
