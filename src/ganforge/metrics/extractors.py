"""Feature extractors for the distribution metrics, each named by its protocol.

``inception``        the TF-FID Inception-v3 (pytorch-fid / torch-fidelity weights): 2048-d pool features and
                     1008 logits; distances over it are reported as "FID", scores as "IS".
``classifier:PATH``  a small CNN that ganforge trains itself (``ganforge classifier train``); works offline;
                     distances are reported as "FD[classifier:NAME]", never as FID, and are not comparable
                     with published FIDs.
Every extractor carries the SHA-256 of its weights file, written with every result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import GanforgeError


@dataclass
class Extractor:
    name: str  # "inception" or "classifier:NAME"
    fd_label: str  # "FID" or "FD[classifier:NAME]"
    is_label: str  # "IS" or "IS[classifier:NAME]"
    weights: str  # path of the weights file
    weights_sha256: str
    run: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # images in [-1, 1] -> (features, logits)
    class_names: tuple[str, ...] | None = None  # the classifier's classes

    def features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features float32 [N, D], logits float32 [N, C]) on the CPU."""
        return self.run(images)


def _sha256(path: Path) -> str:
    from .inception import weights_sha256

    return weights_sha256(path)


def open_extractor(spec: str, weights: str | None = None, device: str | torch.device = "cpu", bf16: bool = False,
                   batch_size: int = 50) -> Extractor:
    """``inception`` (weights from ``weights``, $GANFORGE_INCEPTION_WEIGHTS, the torch hub cache, or a download)
    or ``classifier:PATH``."""
    if spec == "inception":
        from .inception import find_weights, load_fid_inception

        path = find_weights(weights)
        net = load_fid_inception(path, device)
        return Extractor("inception", "FID", "IS", str(path), _sha256(path),
                         lambda x: net.extract(x, batch_size=batch_size, bf16=bf16))
    if spec.startswith("classifier:"):
        from .classifier import classifier_features, load_classifier, name_of

        path = Path(spec.split(":", 1)[1]).expanduser()
        if not path.is_file():
            raise GanforgeError(f"--extractor {spec}: no classifier file at {str(path)!r}; train one with "
                                f"`ganforge classifier train --data PATH --out {path.name or 'cls.pt'}`")
        model, meta = load_classifier(path, device)
        name = name_of(path)

        def run(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            feats, probs = classifier_features(model, x)
            return feats.float().cpu(), probs.clamp_min(1e-12).log().float().cpu()  # log-probabilities as logits

        names = tuple(meta.get("class_names") or ()) or None
        return Extractor(f"classifier:{name}", f"FD[classifier:{name}]", f"IS[classifier:{name}]", str(path),
                         _sha256(path), run, names)
    raise GanforgeError(f"--extractor {spec!r}; choices: inception, classifier:PATH")


def describe(ex: Extractor) -> dict[str, Any]:
    return {"extractor": ex.name, "weights": ex.weights, "weights_sha256": ex.weights_sha256}
