"""The "FID Inception": the Inception-v3 feature extractor of FID and the Inception Score.

The network is Inception-v3 (Szegedy et al. 2016, "Rethinking the Inception Architecture for Computer
Vision") as frozen in TensorFlow's graph of 2015-12-05 (``inception-2015-12-05.tgz``), which the FID
paper (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium") and its reference TF implementation used. Its weights were ported to PyTorch by
pytorch-fid (M. Seitzer) as ``pt_inception-2015-12-05-6726825d.pth``; torch-fidelity uses the same file.

The layout is torchvision's ``Inception3`` (``Conv2d_1a_3x3`` ... ``Mixed_7c``, ``fc``), so that the
state_dict keys and shapes are exactly those of that file: every conv is a ``BasicConv2d`` (conv without
bias, BatchNorm with eps 0.001, ReLU), there is no auxiliary classifier, and ``fc`` has 1008 classes
(the TF graph's, not torchvision's 1000). Four blocks are patched as in pytorch-fid so that the features
are bit-compatible with the TF FID implementation, not with torchvision's Inception:

* ``FIDInceptionA`` (Mixed_5b/c/d), ``FIDInceptionC`` (Mixed_6b..e) and ``FIDInceptionE_1`` (Mixed_7b)
  average-pool their pool branch with ``count_include_pad=False``: TF's average pool does not count the
  padded zeros at the border, PyTorch's does by default.
* ``FIDInceptionE_2`` (Mixed_7c) uses a 3x3 *max* pool (stride 1, padding 1) in its pool branch, as the
  TF graph does (other Inception-v3s, and the paper, use an average pool there).

Input, as pytorch-fid's ``InceptionV3(resize_input=True, normalize_input=True)``: images (N, 3, H, W) of
any size are resized to 299x299 with ``F.interpolate(mode="bilinear", align_corners=False)`` and the
network sees values in [-1, 1]. pytorch-fid takes images in [0, 1] and maps them with ``2 * x - 1``;
ganforge's images are already in [-1, 1], so they are fed as they are, with no further scaling (bilinear
resizing commutes with that affine map, so the result is the same up to float rounding). Grayscale
(N, 1, H, W) is repeated to 3 channels. (torch-fidelity differs in preprocessing, not in the network: it
takes uint8 images, scales them by ``(x - 128) / 128`` and resizes with its own TF1-style bilinear kernel.)

Outputs: ``pool`` is the 2048-d global average pool after Mixed_7c (pytorch-fid's block 3, the FID
features); ``logits`` is ``fc(pool)`` *with* its bias, 1008 classes (for the Inception Score);
``logits_unbiased`` is ``pool @ fc.weight.T`` without the bias, what torch-fidelity calls
"logits_unbiased" and uses for its Inception Score (``logits_unbiased = logits - fc.bias``).

Weights: :func:`find_weights` looks for the file (explicit path, ``$GANFORGE_INCEPTION_WEIGHTS``, torch
hub's cache, ganforge's cache) and otherwise downloads it once, atomically and checked against its
SHA-256, into ``cache_dir()/weights``; :func:`load_fid_inception` builds the network and loads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..download import Resource, digest, download, one_line
from ..errors import GanforgeError
from ..paths import cache_dir

FID_WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   "pt_inception-2015-12-05-6726825d.pth")
# SHA-256 and size of that file as pinned by other projects: the SHA-256 for this very URL in
# qiuyu96/Carver models/inception_model.py (a genforce "hammer" descendant, _MODEL_URL_SHA256
# 'tf_inception_v3'); SHA-256 and size also recorded for torch-fidelity's copy of the file
# (weights-inception-2015-12-05-6726825d.pth, same digest). The "6726825d" in the file name is its first
# 8 hex digits (torch.hub's check_hash convention), which agrees.
FID_WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
FID_WEIGHTS_SIZE: int | None = 95_628_359
WEIGHTS_ENV = "GANFORGE_INCEPTION_WEIGHTS"
WEIGHTS_MIRROR_ENV = "GANFORGE_WEIGHTS_MIRROR"

INPUT_SIZE = 299
POOL_DIM = 2048
NUM_CLASSES = 1008


# ---------------------------------------------------------------------------------------------------
# The network


class BasicConv2d(nn.Module):
    """Conv (no bias) + BatchNorm (eps 0.001) + ReLU; the keys are ``conv.weight`` and ``bn.*``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int = 1, padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 average pool, stride 1, 'same' padding whose zeros are not counted (as TF does)."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(nn.Module):
    """Mixed_5b/c/d: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | TF avg pool-1x1 (64 + 64 + 96 + pool_features)."""

    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, 1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch1x1(x)
        b = self.branch5x5_2(self.branch5x5_1(x))
        c = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        d = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([a, b, c, d], 1)


class InceptionB(nn.Module):
    """Mixed_6a (grid 35 -> 17, not patched): 3x3/2 | 1x1-3x3-3x3/2 | max pool 3x3/2."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch3x3(x)
        b = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        c = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([a, b, c], 1)


class FIDInceptionC(nn.Module):
    """Mixed_6b..e: 1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | TF avg pool-1x1, 4 x 192 channels."""

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch1x1(x)
        b = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        c = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            c = conv(c)
        d = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([a, b, c, d], 1)


class InceptionD(nn.Module):
    """Mixed_7a (grid 17 -> 8, not patched): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | max pool 3x3/2."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch3x3_2(self.branch3x3_1(x))
        b = self.branch7x7x3_1(x)
        for conv in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b = conv(b)
        c = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([a, b, c], 1)


class _InceptionE(nn.Module):
    """Mixed_7b/c: 1x1 | 1x1-(1x3 & 3x1) | 1x1-3x3-(1x3 & 3x1) | pool-1x1: 320 + 768 + 768 + 192 = 2048."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 320, 1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch1x1(x)
        b = self.branch3x3_1(x)
        b = torch.cat([self.branch3x3_2a(b), self.branch3x3_2b(b)], 1)
        c = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        c = torch.cat([self.branch3x3dbl_3a(c), self.branch3x3dbl_3b(c)], 1)
        d = self.branch_pool(self._pool(x))
        return torch.cat([a, b, c, d], 1)


class FIDInceptionE_1(_InceptionE):  # pytorch-fid's name
    """Mixed_7b: the pool branch is TF's average pool (padding not counted)."""

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return _tf_avg_pool(x)


class FIDInceptionE_2(_InceptionE):  # pytorch-fid's name
    """Mixed_7c: the pool branch is a 3x3 max pool, stride 1, padding 1, as in the TF graph."""

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


class FIDInception(nn.Module):
    """The TF-FID Inception-v3, in the layout of ``pt_inception-2015-12-05-6726825d.pth``.

    ``forward(x)`` takes images (N, 3 or 1, H, W) in [-1, 1] and returns a dict of ``pool`` (N, 2048),
    ``logits`` (N, 1008, fc with bias) and ``logits_unbiased`` (N, 1008, fc without bias);
    :meth:`features` returns ``(pool, logits)`` and :meth:`extract` runs many images in batches. Use it in
    eval mode (:func:`load_fid_inception` returns it so); :meth:`extract` switches to eval mode itself.

    A freshly built network has random weights (He-normal convs, so that activations stay of order 1
    through the 94 convs: useful for tests); load the real ones with :func:`load_fid_inception`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)  # 299 -> 149
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)  # -> 147
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)  # -> 147, max pool -> 73
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)  # -> 71, max pool -> 35
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)  # -> 256
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)  # -> 288
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)  # -> 288
        self.Mixed_6a = InceptionB(288)  # -> 768 x 17 x 17
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)  # -> 1280 x 8 x 8
        self.Mixed_7b = FIDInceptionE_1(1280)  # -> 2048
        self.Mixed_7c = FIDInceptionE_2(2048)  # -> 2048
        self.fc = nn.Linear(POOL_DIM, NUM_CLASSES)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, 3 or 1, H, W) in [-1, 1] -> (N, 3, 299, 299) in the network's dtype, on its device."""
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise GanforgeError(f"FID Inception takes images (N, 3, H, W) or (N, 1, H, W); got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise GanforgeError(f"FID Inception takes float images in [-1, 1]; got {x.dtype} "
                                "(convert uint8 with x / 127.5 - 1)")
        weight = self.fc.weight
        x = x.to(device=weight.device, dtype=weight.dtype)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            # pytorch-fid resizes always; at 299x299 that is the identity, so it is skipped here
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return x

    def pool_features(self, x: torch.Tensor) -> torch.Tensor:
        """The 2048-d pool (N, 2048) of preprocessed input (N, 3, 299, 299)."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        # torchvision's dropout before fc is the identity in eval mode and never touches the pool itself
        return torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        pool = self.pool_features(self.preprocess(x))
        unbiased = pool @ self.fc.weight.t()
        return {"pool": pool, "logits": unbiased + self.fc.bias, "logits_unbiased": unbiased}

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(pool [N, 2048], logits [N, 1008])`` of images in [-1, 1]; logits with fc's bias."""
        pool = self.pool_features(self.preprocess(x))
        return pool, self.fc(pool)

    def extract(self, images: torch.Tensor | Iterable[torch.Tensor], batch_size: int = 50,
                bf16: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``(pool [N, 2048], logits [N, 1008])`` of many images, float32 on the CPU.

        ``images`` is one tensor (N, C, H, W) in [-1, 1] or an iterable of such batches; they are moved to
        the network's device and run ``batch_size`` at a time in eval mode under ``torch.inference_mode``.
        ``bf16=True`` runs the network under ``torch.autocast`` with bfloat16 (faster on recent GPUs and
        CPUs, but no longer the reference float32 numbers; resizing always happens in float32).
        """
        if batch_size < 1:
            raise GanforgeError(f"batch_size must be at least 1; got {batch_size}")
        device = self.fc.weight.device
        batches = (images,) if isinstance(images, torch.Tensor) else images
        pools: list[torch.Tensor] = []
        logits: list[torch.Tensor] = []
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                for batch in batches:
                    for chunk in batch.split(batch_size):
                        x = self.preprocess(chunk)
                        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                            pool = self.pool_features(x)
                            logit = self.fc(pool)
                        pools.append(pool.float().cpu())
                        logits.append(logit.float().cpu())
        finally:
            self.train(was_training)
        if not pools:
            return torch.empty(0, POOL_DIM), torch.empty(0, NUM_CLASSES)
        return torch.cat(pools), torch.cat(logits)


# ---------------------------------------------------------------------------------------------------
# The weights file


def hub_weights_path() -> Path:
    """Where torch.hub (and so pytorch-fid) keeps the file: ``torch.hub.get_dir()/checkpoints/...``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FID_WEIGHTS_FILENAME


def cache_weights_path() -> Path:
    """Where ganforge downloads the file: ``cache_dir()/weights/...``."""
    return cache_dir() / "weights" / FID_WEIGHTS_FILENAME


def _existing(path: str | os.PathLike[str], what: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise GanforgeError(f"{what} {p} is not a file (it should be {FID_WEIGHTS_FILENAME} from {FID_WEIGHTS_URL})")
    return p


def find_weights(path: str | os.PathLike[str] | None = None, timeout: float = 30) -> Path:
    """The FID Inception weights file, downloading it when it is nowhere to be found.

    In order: ``path``; ``$GANFORGE_INCEPTION_WEIGHTS``; torch hub's cache (:func:`hub_weights_path`,
    where pytorch-fid puts it); ganforge's cache (:func:`cache_weights_path`). An explicit path or the
    environment variable must name an existing file (no silent fallback). Otherwise the file is downloaded
    from :data:`FID_WEIGHTS_URL` (its base replaced by ``$GANFORGE_WEIGHTS_MIRROR`` when set) into
    ganforge's cache: streamed into a temporary file, checked against :data:`FID_WEIGHTS_SHA256` and
    :data:`FID_WEIGHTS_SIZE`, and only then moved into place. Without network access this fails at once
    with a one-line :class:`GanforgeError` that says where to put the file.
    """
    if path is not None:
        return _existing(path, "Inception weights file")
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        return _existing(env, f"${WEIGHTS_ENV}")
    hub, cached = hub_weights_path(), cache_weights_path()
    for candidate in (hub, cached):
        if candidate.is_file():
            return candidate
    mirror = os.environ.get(WEIGHTS_MIRROR_ENV)
    url = mirror.rstrip("/") + "/" + FID_WEIGHTS_FILENAME if mirror else FID_WEIGHTS_URL
    dest = cached.parent
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GanforgeError(f"cannot create {dest}: {one_line(exc)}") from exc
    res = Resource(FID_WEIGHTS_FILENAME, None, (url,), sha256=FID_WEIGHTS_SHA256, size=FID_WEIGHTS_SIZE)
    manual = (f"offline? download {FID_WEIGHTS_URL} by hand and put it at {hub} (or {cached}), "
              f"or set {WEIGHTS_ENV}=/path/to/{FID_WEIGHTS_FILENAME}; or score offline without it: "
              f"`ganforge classifier train --data DATA --out cls.pt`, then `--extractor classifier:cls.pt` "
              f"(eval.extractor=classifier:cls.pt in training; it reports FD[classifier:cls], not FID)")
    download(res, dest, (url,), timeout, manual)
    return cached


def weights_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 (hex) of a weights file, for the record of how a score was computed."""
    try:
        return digest(Path(path).expanduser(), "sha256")
    except OSError as exc:
        raise GanforgeError(f"cannot read {path}: {one_line(exc)}") from exc


def _not_it(path: Path, detail: str) -> GanforgeError:
    return GanforgeError(f"{path} is not the FID Inception weights file ({FID_WEIGHTS_FILENAME}): {detail}")


def _shape(t: object) -> str:
    return str(tuple(t.shape)) if isinstance(t, torch.Tensor) else type(t).__name__


def load_fid_inception(path: str | os.PathLike[str] | None = None,
                       device: str | torch.device = "cpu") -> FIDInception:
    """The FID Inception with its real weights (see :func:`find_weights`), in eval mode, frozen, on ``device``.

    The file is read with ``torch.load(weights_only=True)``. Its keys and shapes must be exactly the
    network's, except that BatchNorm ``num_batches_tracked`` buffers may be absent (files saved by older
    torch omit them; they do not affect eval-mode outputs). Anything else raises a one-line
    :class:`GanforgeError` that names the first key that differs.
    """
    p = find_weights(path)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling, zip and EOF errors alike mean "not this file"; never suggest unsafe loading
        raise _not_it(p, "torch cannot read it as a state_dict of tensors (damaged, or another kind of file)") from exc
    if not isinstance(state, Mapping):
        raise _not_it(p, f"it holds a {type(state).__name__}, not a state_dict")
    model = FIDInception()
    expected = model.state_dict()
    full: dict[str, torch.Tensor] = {}
    for key, ref in expected.items():
        if key not in state:
            if key.endswith(".num_batches_tracked"):
                full[key] = torch.zeros((), dtype=torch.long)
                continue
            raise _not_it(p, f"missing key {key!r}")
        value = state[key]
        if not isinstance(value, torch.Tensor) or value.shape != ref.shape:
            raise _not_it(p, f"key {key!r} has shape {_shape(value)}, expected {tuple(ref.shape)}")
        full[key] = value
    extra = next((k for k in state if k not in expected), None)
    if extra is not None:
        raise _not_it(p, f"unexpected key {extra!r}")
    model.load_state_dict(full, strict=True)  # copies into the float32 parameters
    return model.to(device).eval().requires_grad_(False)
