"""Mode coverage on StackedMNIST (Metz et al. 2017; VEEGAN; PacGAN, Table 2): each generated image's three colour
channels are read as three digits by an MNIST classifier (``--extractor classifier:PATH``, from ``ganforge classifier
train --data mnist --channels 1``), the digit triple is the image's mode (1,000 of them), and over 26,000 samples
(the papers' count) the metric reports ``modes`` (how many of the 1,000 received at least one sample) and
``modes_kl``, KL(q || uniform) = sum_k q_k log(1000 q_k) of the mode histogram q: 0 when every mode is equally
frequent, log(1000 / m) when m modes share the samples evenly. ``modes_kl`` ranks checkpoints (lower is better).

Why a generator misses modes: ``modes_kl`` splits exactly into ``modes_kl_channels``, the sum over channels of each
channel's digit histogram's KL to uniform (a channel that favours some digits), and ``modes_tc``, the total
correlation of the three digits, sum_c H(q_c) - H(q) (channels that depend on each other, e.g. strokes repeated from
one channel to the next): KL(q || U_1000) = log 1000 - H(q) = sum_c (log 10 - H(q_c)) + (sum_c H(q_c) - H(q)).
"""

from __future__ import annotations

import math
from typing import Any

from .base import Inputs, Metric, register


def _entropy(counts: Any) -> float:
    import numpy as np

    q = counts[counts > 0] / counts.sum()  # scipy.stats.entropy does this; scipy is only a test dependency
    return float(-np.sum(q * np.log(q)))


def _modes(x: Inputs) -> dict[str, float]:
    import numpy as np

    logits = np.asarray(x.channel_logits)
    _, c, k = logits.shape
    digits = logits.argmax(-1)  # (N, C)
    ids = (digits * k ** np.arange(c - 1, -1, -1)).sum(1)  # (N,): the digits as one number in base K
    counts = np.bincount(ids, minlength=k**c).astype(np.float64)
    h = [_entropy(np.bincount(digits[:, i], minlength=k).astype(np.float64)) for i in range(c)]  # each channel's
    h_all = _entropy(counts)  # KL(q || uniform) = log(K^C) - H(q), split into the channels' KL and their dependence
    return {"modes": float(np.count_nonzero(counts)), "modes_kl": max(0.0, c * math.log(k) - h_all),
            "modes_kl_channels": max(0.0, c * math.log(k) - sum(h)), "modes_tc": max(0.0, sum(h) - h_all)}


register(Metric("modes", "StackedMNIST mode coverage: modes of 1000 and KL to uniform of the digit triples an MNIST "
                "classifier reads (26,000 samples)", frozenset({"channels"}), _modes, min_count=1,
                higher_is_better=False, ranks=lambda k: k == "modes_kl", default_n=26_000))
