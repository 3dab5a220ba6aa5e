"""Device names (``--device``, ``train.device``) -> a torch device, with one-line errors for the rest."""

from __future__ import annotations

import torch

from .errors import GanforgeError

ALLOWED = "auto, cpu, cuda, cuda:N or mps"


def valid_name(name: str) -> bool:
    return name in ("auto", "cpu", "cuda", "mps") or (name.startswith("cuda:") and name[5:].isdigit())


def pick_device(name: str, key: str = "train.device") -> torch.device:
    """``auto`` = CUDA, else MPS, else CPU; an explicit device must exist here."""
    if not valid_name(name):
        raise GanforgeError(f"{key} must be {ALLOWED}; got {name!r}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GanforgeError(f"{key}={name} but CUDA is not available here; use {key}=cpu or auto")
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise GanforgeError(f"{key}={name} but only {torch.cuda.device_count()} CUDA device(s) exist")
    if name == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise GanforgeError(f"{key}=mps but MPS is not available here; use {key}=cpu or auto")
    return torch.device(name)
