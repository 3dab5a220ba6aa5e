"""Class accuracy of a conditional model: the share of ``--class K`` samples that a classifier (the extractor,
trained on the same classes) reads as K, per class and on average, with per-class Frechet distances against the
real images of that class where the real data has labels."""

from __future__ import annotations

from ..errors import GanforgeError
from .base import Inputs, Metric, register


def _acc(x: Inputs) -> dict[str, float]:
    import numpy as np

    from .scores import fid_from_features

    names = x.class_names
    if not names or x.fake_of_class is None:
        raise GanforgeError("--metrics acc needs a class-conditional model")
    if x.extractor_classes is None or tuple(x.extractor_classes) != tuple(names):
        raise GanforgeError(f"--metrics acc needs a classifier trained on the same classes ({', '.join(names)}); "
                            f"the extractor has {', '.join(x.extractor_classes or ('none',))}")
    hits, out = [], {}
    for k, name in enumerate(names):
        feats, logits = x.fake_of_class(k)
        hits.append(float((logits.argmax(1) == k).mean()))
        out[f"class_acc[{name}]"] = hits[-1]
        if x.real_labels is not None and x.real is not None and (x.real_labels == k).sum() >= 2:
            out[f"{x.fd_label}[{name}]"] = fid_from_features(x.real[0][x.real_labels == k], feats)
    return {"class_acc": float(np.mean(hits)), **out}


register(Metric("acc", "class accuracy of a conditional model's --class K samples under a classifier of the same "
                "classes (and per-class FD)", frozenset({"classes"}), _acc, min_count=2))
