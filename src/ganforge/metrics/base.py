"""The metric registry: every metric says what it needs, how many samples it needs at least, and which way is
better, in the shape of StyleGAN's ``metric_main``. Evaluation (``ganforge evaluate``, ``eval.every``), the ranking
behind ``best.pt``, the report and ``--help`` read :data:`METRICS`; a new metric is one module that registers a
:class:`Metric` (imported by ``metrics/__init__.py``) plus its test.

This module imports neither torch nor numpy (the report reads the ranking without them); metric functions import
what they compute with when they run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import GanforgeError, choices_error
from ..registry import Registry

# What a metric may need: features and logits of real and of generated images (``real``, ``fake``), the
# generated images of each class of a conditional model (``classes``), outputs with their targets (``pairs``),
# generated 2-D points with the distribution that drew the data (``points``), the extractor's class logits of each
# colour channel of generated images read as a grey image of its own (``channels``: StackedMNIST).
NEEDS = ("real", "fake", "classes", "pairs", "points", "channels")


@dataclass
class Inputs:
    """What evaluation hands a metric; the fields a metric ``needs`` are set."""

    seed: int = 0
    real: tuple[Any, Any] | None = None  # (features (N, D), logits (N, C)) of real images, numpy float
    fake: tuple[Any, Any] | None = None  # the same of generated images
    fd_label: str = "FID"  # the extractor's names: FID / FD[classifier:NAME], IS / IS[classifier:NAME]
    is_label: str = "IS"
    real_labels: Any = None  # labels of the real images (conditional models)
    class_names: tuple[str, ...] | None = None  # the model's classes
    extractor_classes: tuple[str, ...] | None = None  # the classes the extractor (a classifier) was trained on
    fake_of_class: Callable[[int], tuple[Any, Any]] | None = None  # class k -> (features, logits) of its samples
    outputs: Any = None  # pairs: translations (N, C, H, W) in [-1, 1]
    targets: Any = None  # pairs: their targets
    points: Any = None  # points: generated (N, 2)
    toy: Any = None  # points: the toy distribution of the data
    channel_logits: Any = None  # channels: (N, C, K) class logits of each channel of N generated images


@dataclass(frozen=True)
class Metric:
    name: str  # what --metrics and eval.metrics accept
    summary: str  # one line for --help and docs
    needs: frozenset[str]  # a subset of NEEDS
    compute: Callable[[Inputs], dict[str, float]]  # -> {key: value}; keys are named by protocol
    min_count: int = 1  # samples of each set it needs at least
    higher_is_better: bool | None = None  # the direction of its ranking key; None: it never ranks checkpoints
    ranks: Callable[[str], bool] | None = None  # which result keys are its ranking key (FID, FD[...], AtoB:FID...)
    selectable: bool = True  # named in --metrics (False: computed whenever its needs are met, e.g. paired scores)
    default_n: int | None = None  # samples `ganforge evaluate` draws when --n is not given (the paper's protocol)
    extra: dict[str, Any] = field(default_factory=dict)


METRICS: Registry = Registry("metric", choices_error)


def register(metric: Metric) -> Metric:
    unknown = set(metric.needs) - set(NEEDS)
    if unknown:
        raise ValueError(f"metric {metric.name}: unknown needs {sorted(unknown)}; allowed: {NEEDS}")
    return METRICS.add(metric.name, metric)


def selectable() -> list[str]:
    """The names ``--metrics`` accepts, in registration order."""
    return [n for n, m in METRICS.items() if m.selectable]


def parse_metrics(text: str, key: str = "--metrics") -> list[str]:
    """``fid,kid`` -> ["fid", "kid"]; unknown names are a one-line error listing the choices."""
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    allowed = selectable()
    bad = [m for m in names if m not in allowed]
    if bad or not names:
        raise GanforgeError(f"{key} {text!r}: unknown {', '.join(bad) or 'empty list'}; choices: {', '.join(allowed)}")
    return names


def sample_count(metrics: list[str], fallback: int = 10_000) -> int:
    """How many samples ``ganforge evaluate`` draws when --n is not given: the largest count a requested metric's
    protocol asks for (``modes``: the papers' 26,000), else ``fallback``."""
    return max([METRICS.get(m).default_n or fallback for m in metrics] or [fallback])


def check_count(metric: Metric, n_real: int, n_fake: int) -> None:
    if min(n_real, n_fake) < metric.min_count:
        raise GanforgeError(f"--metrics {metric.name} needs at least {metric.min_count} images of each set; got "
                            f"{n_real} real and {n_fake} generated (raise --n, or give more images)")


def main_metric(row: dict[str, Any]) -> tuple[str, bool] | None:
    """The key of an ``eval.jsonl`` row that ranks checkpoints and whether higher is better: the first metric in
    registration order that ranks and owns a key of the row."""
    for _, m in METRICS.items():
        if m.ranks is None or m.higher_is_better is None:
            continue
        for k in row:
            if m.ranks(k):
                return k, m.higher_is_better
    return None
