"""Typed configuration: dataclasses per concern, file loading (YAML/TOML), dotted overrides, validation.

A run's configuration is resolved once (``ganforge.configure.resolve``), in this order, each layer overriding the
previous one: recipe defaults -> preset -> config file -> ``--data`` -> dotted overrides (``train.epochs=5``).
The result is frozen, saved as ``config.yaml`` in the run directory and inside every checkpoint. This module knows
the sections; it imports no recipe (recipes import it).
Unknown keys and values of the wrong type raise :class:`GanforgeError` naming the key, the value and
what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping

from .errors import GanforgeError

# --------------------------------------------------------------------------------------------------
# Sections


@dataclass(frozen=True)
class DataConfig:
    """Where images come from and how they are prepared (the seeds' resize/crop/flip/[-1, 1])."""

    source: str = "builtin:pizza"  # a path, a fetched name (mnist), or kind:PATH / builtin:NAME
    split: str = "train"  # train | test | any sub-folder name
    image_size: int = 32  # side of the square images the networks see
    load_size: int = 0  # side images are resized to before cropping; 0 = image_size
    resize: Literal["shorter", "stretch", "none"] = "shorter"  # shorter side / both sides / refuse
    crop: Literal["center", "random"] = "center"  # from load_size down to image_size
    flip: bool = False  # random horizontal flip per image, per batch
    channels: int = 3  # 1 (grayscale) or 3 (RGB); inputs are converted
    limit: int = 0  # use at most this many images (0 = all)
    builtin_n: int = 0  # images (points) a generated data set makes; 0 = its own default (BUILTIN_N, stacked-mnist 128,000)
    builtin_seed: int = 0  # seed of the procedural generator (independent of train.seed)
    in_memory: Literal["auto", "yes", "no"] = "auto"  # decode once into a uint8 tensor
    in_memory_limit_mb: int = 4096  # auto: in memory when the decoded set is smaller than this
    cache: bool = True  # keep decoded in-memory sets on disk under the cache dir
    workers: int = 2  # DataLoader workers for streamed datasets
    # Translation pairs (pix2pix): see ganforge.data.paired
    pairs: Literal["auto", "aligned", "folders", "colorize", "edges"] = "auto"  # how (A, B) pairs are made
    direction: Literal["AtoB", "BtoA"] = "AtoB"  # AtoB: A is the input, B the target
    input_channels: int = 0  # channels of the translation input; 0 = data.channels
    val_split: str = "auto"  # validation pairs: auto (val/, test/, else hold out 10%), none, or a split name
    source_b: str = ""  # unpaired (CycleGAN): a folder of domain B when data.source is a folder of domain A

    @property
    def resolved_load_size(self) -> int:
        return self.load_size or self.image_size

    def generated(self, default: int = 4096) -> int:
        """How many images (points) a generated data set makes: ``builtin_n``, else the source's default."""
        return self.builtin_n or default


@dataclass(frozen=True)
class OptimConfig:
    """Adam, as in the DCGAN paper: lr 2e-4, betas (0.5, 0.999)."""

    lr: float = 2e-4  # learning rate of G (and of D unless lr_d is set)
    lr_d: float = 0.0  # learning rate of D; 0 = same as lr (set it for TTUR)
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 0.0
    decay: float = 0.0  # linear decay of the lr to 0 over this share of train.epochs, at the end (0.5: the last half)
    decay_epochs: int = 0  # the same as a number of epochs; when set (> 0) it wins over optim.decay

    @property
    def resolved_lr_d(self) -> float:
        return self.lr_d or self.lr

    def resolved_decay_epochs(self, epochs: int) -> int:
        """Epochs at the end of a run of ``epochs`` over which the lr decays (a share scales with the run)."""
        return self.decay_epochs or round(self.decay * epochs)


@dataclass(frozen=True)
class TrainConfig:
    """The loop: length, batch, seeds, device, and how often to log, sample and checkpoint."""

    epochs: int = 5
    steps: int = 0  # total optimisation steps; 0 = epochs * (images // batch_size)
    batch_size: int = 64
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    deterministic: bool = False  # torch.use_deterministic_algorithms
    log_every: int = 50  # steps between metrics.jsonl / TensorBoard rows
    n_samples: int = 64  # images in the per-epoch sample grid (fixed noise)
    keep_checkpoints: int = 3  # epoch_NNN.pt files kept (0 = all); last.pt is always kept
    full_checkpoints: bool = False  # epoch_NNN.pt with the optimizer state too (resume needs only last.pt)
    wandb: bool = False  # also log to Weights & Biases (pip install wandb; WANDB_MODE=offline works without network)
    wandb_project: str = "ganforge"
    tensorboard: bool = True
    val_images: int = 100  # translation recipes: validation pairs scored (L1, PSNR, SSIM) each epoch; 0 = none
    report: bool = True  # rebuild RUN/report.html at the end of every epoch (watch a run by reloading it)
    progress: bool = True  # progress bar on stderr
    # Speed (docs/performance.md). None of these changes what a step computes beyond rounding.
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # autocast dtype; auto = bf16 where the hardware
    # runs it natively (CUDA compute capability >= 8, CPUs with AVX512-BF16 or AMX), else fp32; fp16 = CUDA + grad scaler
    channels_last: Literal["auto", "yes", "no"] = "auto"  # NHWC weights for the conv nets; auto = yes on CUDA, and on
    # CPUs for the recipes that measured faster with it (all but CycleGAN: docs/performance.md)
    compile: bool = False  # torch.compile the networks (a minute or more of compiling; pays off in long runs)
    sync_bn: bool = False  # under torchrun: BatchNorm statistics over the global batch (SyncBatchNorm; CUDA only)


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation during training (``ganforge evaluate`` does the same afterwards): scores every ``every`` epochs
    and keeps ``best.pt``, the checkpoint with the best main metric (FID/FD lowest; PSNR highest for pix2pix)."""

    every: int = 0  # epochs between evaluations; 0 = off
    metrics: str = "fid"  # comma list of fid, kid, is, pr, acc
    extractor: str = "inception"  # inception (needs its weights file) or classifier:PATH (offline)
    weights: str = ""  # the FID Inception weights file; "" = $GANFORGE_INCEPTION_WEIGHTS, the hub cache, or download
    n: int = 5000  # images per set
    real: str = ""  # real data spec; "" = the run's data (its test split when it has one)


@dataclass(frozen=True)
class Config:
    """A whole run. ``model`` is the recipe's own dataclass (for example :class:`DCGANConfig`)."""

    recipe: str
    model: Any
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    name: str = ""  # preset or free label, used for the default run directory

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


SECTIONS = ("data", "optim", "train", "eval")
INT64 = 2**63
MAX_EPOCHS = 100_000  # far beyond any GAN schedule (pix2pix: 200, CycleGAN: 200, DCGAN: 5-25)
MAX_STEPS = 10**9


# --------------------------------------------------------------------------------------------------
# Conversion


def to_plain(obj: Any) -> Any:
    """Dataclasses -> dicts, tuples -> lists: what YAML and ``torch.load(weights_only=True)`` accept."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(str(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        return "list of " + ", ".join(_type_name(a) for a in typing.get_args(tp) if a is not Ellipsis)
    return getattr(tp, "__name__", str(tp))


def coerce(key: str, value: Any, tp: Any) -> Any:
    """Convert ``value`` (from YAML, TOML or a command-line string) to the field type ``tp``."""
    origin = typing.get_origin(tp)
    bad = GanforgeError(f"config key {key} expects {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise GanforgeError(f"config key {key} must be one of {', '.join(map(str, allowed))}; got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        if isinstance(value, str) and value.lower() in ("none", "null") and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(key, value, a)
            except GanforgeError:
                pass
        raise bad
    if origin is tuple:
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        if isinstance(value, str):
            value = [v for v in value.strip("()[] ").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise bad
        if Ellipsis in typing.get_args(tp):
            return tuple(coerce(key, v, args[0]) for v in value)
        if len(value) != len(args):
            raise bad
        return tuple(coerce(key, v, a) for v, a in zip(value, args))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise bad
    if tp is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str):
            try:
                value = int(value.replace("_", ""))
            except ValueError:
                raise bad from None
        if not isinstance(value, int):
            raise bad
        if not -INT64 <= value < INT64:  # torch, numpy and the checkpoint store 64-bit integers
            raise GanforgeError(f"config key {key} is out of range: {value} does not fit in 64 bits")
        return value
    if tp is float:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise bad from None
        if not isinstance(value, (int, float)):
            raise bad
        try:
            value = float(value)
        except OverflowError:  # an int beyond float range
            value = math.inf
        if not math.isfinite(value):
            raise GanforgeError(f"config key {key} must be a finite number; got {value!r}")
        return value
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad
    raise bad


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean X?)' for the closest candidate, '' when none is close."""
    import difflib

    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def build_section(cls: type, values: Mapping[str, Any], prefix: str) -> Any:
    """Instantiate dataclass ``cls`` from a mapping, rejecting unknown keys and coercing types."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for k, v in values.items():
        if k not in names:
            hint = did_you_mean(prefix + k, [prefix + n for n in names])
            raise GanforgeError(f"unknown config key '{prefix}{k}'{hint}; valid keys in "
                                f"{prefix.rstrip('.') or 'config'}: {', '.join(names)}")
        kwargs[k] = coerce(prefix + k, v, hints[k])
    return cls(**kwargs)


# --------------------------------------------------------------------------------------------------
# Nested dicts: merging, dotted keys, files


def merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of plain dicts (``update`` wins)."""
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def parse_override(text: str) -> dict[str, Any]:
    """``train.epochs=5`` -> ``{"train": {"epochs": "5"}}``; values are typed later, against the field."""
    if "=" not in text:
        raise GanforgeError(f"bad override {text!r}; expected KEY=VALUE such as train.epochs=5")
    key, value = text.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise GanforgeError(f"bad override key {key!r}; expected dotted keys such as optim.lr")
    node: dict[str, Any] = {parts[-1]: value}
    for p in reversed(parts[:-1]):
        node = {p: node}
    return node


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (.yaml/.yml) or TOML (.toml) config file into a nested dict."""
    p = Path(path)
    if p.is_dir():
        raise GanforgeError(f"config file {str(path)!r} is a folder; give a .yaml, .yml or .toml file")
    if not p.is_file():
        raise GanforgeError(f"config file {str(path)!r} does not exist")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise GanforgeError(f"config file {str(path)!r} is not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    except OSError as e:
        raise GanforgeError(f"cannot read config file {str(path)!r}: {e.strerror or e}") from None
    suffix = p.suffix.lower()
    try:
        if suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python < 3.11
                import tomli as tomllib  # type: ignore[no-redef]
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            raise GanforgeError(f"config file {str(path)!r} has suffix {suffix!r}; allowed: .yaml, .yml, .toml")
    except GanforgeError:
        raise
    except Exception as e:  # parser errors carry line numbers; keep them on one line
        raise GanforgeError(f"cannot parse config file {str(path)!r}: {' '.join(str(e).split())}") from None
    if not isinstance(data, dict):
        raise GanforgeError(f"config file {str(path)!r} must hold a mapping of sections, got {type(data).__name__}")
    return data


def positive(key: str, value: float, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise GanforgeError(f"config key {key} must be {'>= 0' if allow_zero else '> 0'}; got {value!r}")


def validate(cfg: Config) -> None:
    """Checks that span one section; a recipe checks its own ``model`` section and combinations."""
    d, t, o = cfg.data, cfg.train, cfg.optim
    if d.channels not in (1, 3):
        raise GanforgeError(f"config key data.channels must be 1 or 3; got {d.channels}")
    if d.input_channels not in (0, 1, 3):
        raise GanforgeError(f"config key data.input_channels must be 0 (same as data.channels), 1 or 3; got {d.input_channels}")
    positive("data.image_size", d.image_size)
    positive("data.load_size", d.load_size, allow_zero=True)
    if d.load_size and d.load_size < d.image_size:
        raise GanforgeError(f"config key data.load_size ({d.load_size}) must be >= data.image_size ({d.image_size})")
    for k in ("limit", "builtin_seed", "workers"):
        positive(f"data.{k}", getattr(d, k), allow_zero=True)
    positive("train.seed", t.seed, allow_zero=True)
    if t.epochs > MAX_EPOCHS:
        raise GanforgeError(f"config key train.epochs={t.epochs} is more than any run needs; at most {MAX_EPOCHS} "
                            f"(for a run of a fixed length use train.steps)")
    if t.steps > MAX_STEPS:
        raise GanforgeError(f"config key train.steps={t.steps} is more than any run needs; at most {MAX_STEPS}")
    positive("data.builtin_n", d.builtin_n, allow_zero=True)
    for k in ("epochs", "batch_size", "log_every", "n_samples"):
        positive(f"train.{k}", getattr(t, k))
    for k in ("steps", "keep_checkpoints", "val_images"):
        positive(f"train.{k}", getattr(t, k), allow_zero=True)
    positive("eval.every", cfg.eval.every, allow_zero=True)
    positive("eval.n", cfg.eval.n)
    positive("optim.lr", o.lr)
    positive("optim.lr_d", o.lr_d, allow_zero=True)
    positive("optim.decay_epochs", o.decay_epochs, allow_zero=True)
    if not 0 <= o.decay <= 1:
        raise GanforgeError(f"config key optim.decay must be in [0, 1] (a share of train.epochs); got {o.decay!r}")
    if o.decay_epochs > t.epochs:
        raise GanforgeError(f"config key optim.decay_epochs ({o.decay_epochs}) must be <= train.epochs ({t.epochs})")
    for k in ("beta1", "beta2"):
        if not 0 <= getattr(o, k) < 1:
            raise GanforgeError(f"config key optim.{k} must be in [0, 1); got {getattr(o, k)!r}")
    from .device import ALLOWED, valid_name

    if not valid_name(t.device):
        raise GanforgeError(f"config key train.device must be {ALLOWED}; got {t.device!r}")


def save_yaml(cfg: Config, path: Path) -> None:
    import yaml

    from .files import atomic_write

    atomic_write(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
