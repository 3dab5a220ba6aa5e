"""The distribution metrics over an extractor's features: FID/FD, KID, IS and precision/recall (the math is in
``scores.py``), and ``conf``, how the extractor's classifier reads the generated images; each result key is named
by the extractor's protocol (FID or FD[classifier:NAME], ...)."""

from __future__ import annotations

from .base import Inputs, Metric, register


def _fd(x: Inputs) -> dict[str, float]:
    from .scores import fid_from_features

    return {x.fd_label: fid_from_features(x.real[0], x.fake[0])}


KID_KEY = "KIDx1000"  # the result key of the metric kid: KID (the unbiased MMD^2) times 1000


def _kid(x: Inputs) -> dict[str, float]:
    from .scores import kid

    mean, std = kid(x.real[0], x.fake[0], seed=x.seed)
    # Stored and printed x 1000 ("KID x 10^3", as papers quote it), and named so: KIDx1000 or KIDx1000[classifier:NAME]
    label = KID_KEY + (x.fd_label[2:] if x.fd_label != "FID" else "")
    return {label: 1000 * mean, label + "_std": 1000 * std}


def _is(x: Inputs) -> dict[str, float]:
    from .scores import inception_score

    mean, std = inception_score(x.fake[1], splits=10)
    return {x.is_label: mean, x.is_label + "_std": std}


def _pr(x: Inputs) -> dict[str, float]:
    from .scores import precision_recall

    p, r = precision_recall(x.real[0], x.fake[0], k=3)
    return {"precision": p, "recall": r}


def _conf(x: Inputs) -> dict[str, float]:
    import numpy as np

    logits = np.asarray(x.fake[1], dtype=np.float64)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    shares = np.bincount(p.argmax(1), minlength=p.shape[1]) / len(p)
    return {"confidence": float(p.max(1).mean()), "class_share_min": float(shares.min()),
            "class_share_max": float(shares.max())}


def _is_fd_key(key: str) -> bool:
    k = key.split(":", 1)[1] if key.startswith(("AtoB:", "BtoA:")) else key  # CycleGAN: one per direction
    return k == "FID" or (k.startswith("FD[") and k.endswith("]") and k.count("[") == 1)


register(Metric("fid", "Frechet distance of the extractor's features (FID with Inception, FD[classifier:NAME] with "
                "ganforge's classifier); lower is better", frozenset({"real", "fake"}), _fd, min_count=2,
                higher_is_better=False, ranks=_is_fd_key))
register(Metric("kid", "kernel distance (unbiased, cubic kernel, 100 subsets of up to 1000), reported x 1000 as "
                "KIDx1000",
                frozenset({"real", "fake"}), _kid, min_count=2))
register(Metric("is", "Inception Score of the generated images (10 splits)", frozenset({"fake"}), _is, min_count=10))
register(Metric("pr", "improved precision and recall (k = 3)", frozenset({"real", "fake"}), _pr, min_count=4))
register(Metric("conf", "how a classifier reads the generated images: its mean confidence (top softmax) and the "
                "smallest and largest share of a class (a uniform class mix: 1/K each)", frozenset({"fake"}), _conf,
                min_count=1))
