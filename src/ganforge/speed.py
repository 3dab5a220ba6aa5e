"""How a training step runs fast, for every recipe alike: mixed precision, channels-last, torch.compile and
fused Adam (the ``train.*`` speed settings; measured in docs/performance.md).

- Precision. ``bf16`` runs the forward passes under ``torch.autocast`` with bfloat16 (CPU and CUDA): same
  exponent range as fp32, so no loss scaling. ``fp16`` (CUDA only) autocasts to float16 and scales each loss
  with its own ``torch.amp.GradScaler`` (one per optimizer, saved in the checkpoint). Losses are always
  computed in fp32 (``ganforge.losses`` casts the logits). ``auto`` picks bf16 where the hardware runs it
  natively (CUDA compute capability >= 8; CPUs with AVX512-BF16 or AMX), fp32 elsewhere.
- Channels-last (NHWC) weights make the convolutions of oneDNN (CPU) and cuDNN (tensor cores) skip layout
  conversions; activations follow the weights' layout.
- Adam is ``fused`` (one kernel for all parameters; with fp16 it also takes the scaler's inf check without a
  host sync) where torch supports it for the device, else ``foreach``.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Iterable

import torch

from .errors import GanforgeError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 matmuls/convolutions run natively (fast) on ``device``."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device)[0] >= 8
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        checks = [getattr(cpu, n, None) for n in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        return any(bool(f()) for f in checks if f is not None)
    return False


def resolve_precision(name: str, device: torch.device, strict: bool = True) -> str:
    """``train.precision`` -> fp32 | bf16 | fp16 for ``device``. Impossible combinations raise when ``strict``
    (training), else fall back to fp32 (sampling from an fp16-trained checkpoint on a CPU)."""
    if name not in PRECISIONS:
        raise GanforgeError(f"train.precision={name!r}; choices: {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if not strict and ((name == "fp16" and device.type != "cuda") or device.type not in ("cpu", "cuda")):
        return "fp32"
    if name == "fp16" and device.type != "cuda":
        raise GanforgeError(f"train.precision=fp16 needs a CUDA device (it runs with a gradient scaler); the device is "
                            f"{device}; use bf16 or fp32")
    if name == "bf16" and device.type not in ("cpu", "cuda"):
        raise GanforgeError(f"train.precision=bf16 runs on cpu or cuda; the device is {device}; use fp32")
    return name


def check_precision(name: str, device: torch.device) -> None:
    """Refuse a ``train.precision`` that cannot train on ``device`` (fp16 without CUDA...), before anything is
    built; the recipe resolves the setting itself (``Recipe.precision``)."""
    resolve_precision(name, device, strict=True)


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """The autocast context of ``precision`` (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AUTOCAST_DTYPES[precision])


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None


@functools.cache
def _fused_ok(device_type: str) -> bool:
    # torch >= 2.4 has fused Adam for CPU and CUDA; older versions only for CUDA
    if device_type == "cuda":
        return True
    if device_type != "cpu":
        return False
    try:
        torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], fused=True)
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def adam(params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float], weight_decay: float,
         device: torch.device) -> torch.optim.Adam:
    """Adam with the fastest implementation ``device`` offers (same update rule as the plain one)."""
    if _fused_ok(device.type):
        return torch.optim.Adam(params, lr, betas=betas, weight_decay=weight_decay, fused=True)
    return torch.optim.Adam(params, lr, betas=betas, weight_decay=weight_decay, foreach=True)


def keep_implementation(opt: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """``opt.load_state_dict(state)`` without taking over the saved fused/foreach flags: a checkpoint written
    with fused CUDA Adam must resume on a machine where only the foreach one exists, and back."""
    flags = [{k: g.get(k) for k in ("fused", "foreach")} for g in opt.param_groups]
    opt.load_state_dict(state)
    for g, f in zip(opt.param_groups, flags):
        g.update(f)


def use_channels_last(setting: str, device: torch.device, cpu_default: bool) -> bool:
    """``train.channels_last``: yes, no, or auto = yes on CUDA (tensor cores want NHWC) and ``cpu_default``
    (the recipe's measured preference) on a CPU."""
    if setting == "auto":
        return device.type == "cuda" or (device.type == "cpu" and cpu_default)
    return setting == "yes"


def channels_last(net: torch.nn.Module) -> torch.nn.Module:
    """NHWC weights for a network with convolutions (4-D weights); others are left as they are."""
    return net.to(memory_format=torch.channels_last)
