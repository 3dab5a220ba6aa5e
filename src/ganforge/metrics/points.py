"""The 2-D toys' mode metrics as a registered metric (the math is ``data/toy.py``'s ``mode_metrics``): modes
captured, the high-quality fraction and the reverse KL of the mode histogram; reverse KL ranks checkpoints."""

from __future__ import annotations

from .base import Inputs, Metric, register


def _toy(x: Inputs) -> dict[str, float]:
    from ..data.toy import mode_metrics

    return {k: float(v) for k, v in mode_metrics(x.points, x.toy).items()}


register(Metric("toy", "2-D toys: modes captured, high-quality fraction, reverse KL (PacGAN's protocol)",
                frozenset({"points"}), _toy, higher_is_better=False, ranks=lambda k: k == "reverse_kl",
                selectable=False))
