"""Mode coverage on StackedMNIST (Metz et al. 2017; VEEGAN; PacGAN, Table 2): each generated image's three colour
channels are read as three digits by an MNIST classifier (``--extractor classifier:PATH``, from ``ganforge classifier
train --data mnist --channels 1``), the digit triple is the image's mode (1,000 of them), and over 26,000 samples
(the papers' count) the metric reports ``modes`` (how many of the 1,000 received at least one sample) and
``modes_kl``, KL(q || uniform) = sum_k q_k log(1000 q_k) of the mode histogram q: 0 when every mode is equally
frequent, log(1000 / m) when m modes share the samples evenly. ``modes_kl`` ranks checkpoints (lower is better).
"""

from __future__ import annotations

from .base import Inputs, Metric, register


def _modes(x: Inputs) -> dict[str, float]:
    import numpy as np

    logits = np.asarray(x.channel_logits)
    n, c, k = logits.shape
    digits = logits.argmax(-1)  # (N, C)
    ids = (digits * k ** np.arange(c - 1, -1, -1)).sum(1)  # (N,): the digits as one number in base K
    total = k**c
    counts = np.bincount(ids, minlength=total).astype(np.float64)
    q = counts[counts > 0] / n
    return {"modes": float(len(q)), "modes_kl": max(0.0, float(np.sum(q * np.log(q * total))))}


register(Metric("modes", "StackedMNIST mode coverage: modes of 1000 and KL to uniform of the digit triples an MNIST "
                "classifier reads (26,000 samples)", frozenset({"channels"}), _modes, min_count=1,
                higher_is_better=False, ranks=lambda k: k == "modes_kl", default_n=26_000))
