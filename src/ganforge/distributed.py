"""Data-parallel training under torchrun: ``torchrun --nproc_per_node N -m ganforge train ...``.

One process per GPU (NCCL) or per CPU process (gloo). What each rank does:
- ``train.batch_size`` is the GLOBAL batch; each rank takes its slice of it (``batch_size / world``, which
  must divide), so a preset means the same optimisation whatever the number of processes, and a run can
  resume under another world size.
- Every rank makes the same data and noise draws: the epoch's shuffle, the crop/flip draws and the noise (z,
  the penalty's alpha, instance noise; from the recipe's own generator) are drawn for the global batch and
  sliced. A 2-process run with per-rank batch b therefore computes what a 1-process run with batch 2b
  computes, up to rounding, BatchNorm (per-rank statistics unless ``train.sync_bn``) and dropout. torch's
  default generator, which draws dropout masks and CycleGAN's pool choices, is seeded per rank, so those
  differ between ranks; each rank's generator state is saved in the checkpoint.
- Gradients are averaged across ranks by one all-reduce per optimizer step, of all of that optimizer's
  gradients flattened into one buffer (as StyleGAN3's training loop does), rather than by wrapping the
  networks in ``DistributedDataParallel``: DDP's reducer assumes one forward and one backward per network
  and step, which GAN steps break (D runs on real, fake and, for G's loss, fake again; G's backward happens on
  every n_critic-th step only; the gradient penalty differentiates through D twice; CycleGAN freezes its
  discriminators during the generator update). The all-reduce after backward gives the same gradients.
- BatchNorm running statistics (not used by training steps) are averaged across ranks at each epoch end.
- Only rank 0 writes: metrics, TensorBoard, sample grids, checkpoints, evaluations, the report. Logged scalars
  are the means over all ranks. Per-rank state that is not replicated (CycleGAN's image pools) is gathered
  into the checkpoint.
- Ctrl-C (or SIGTERM from torchrun) on any rank stops all of them after the same step: a flag is all-reduced
  over a gloo group after every step (a CPU collective of one number: no device sync).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any, Iterable

import torch
import torch.distributed as dist

from .errors import GanforgeError

# Rank 0 evaluates and writes while the others wait at a barrier: allow it time (evaluation of a large
# checkpoint can take many minutes).
TIMEOUT = datetime.timedelta(minutes=int(os.environ.get("GANFORGE_DIST_TIMEOUT_MIN", "60")))


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


_flag_group: Any = None  # gloo group for the stop flag (CPU tensors even when the main backend is NCCL)


def launched() -> bool:
    """Whether this process was started by torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def world() -> World:
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return World()


def setup(device_name: str) -> tuple[World, str]:
    """Join the process group when launched by torchrun; returns the world and the device name this rank
    uses (``cuda:LOCAL_RANK`` when the device is auto or cuda and CUDA exists)."""
    global _flag_group
    if not launched():
        return World(), device_name
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_name in ("auto", "cuda") and torch.cuda.is_available()
    if device_name.startswith("cuda:"):
        raise GanforgeError(f"train.device={device_name} under torchrun: each rank takes cuda:LOCAL_RANK; use "
                            f"train.device=cuda or auto")
    if use_cuda:
        if local >= torch.cuda.device_count():
            raise GanforgeError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA device(s) on this node; "
                                f"use --nproc_per_node <= {torch.cuda.device_count()}")
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=TIMEOUT,
                                **({"device_id": torch.device("cuda", local)} if use_cuda else {}))
        _flag_group = dist.new_group(backend="gloo", timeout=TIMEOUT) if use_cuda else dist.group.WORLD
    return world(), (f"cuda:{local}" if use_cuda else ("cpu" if device_name == "auto" else device_name))


def shutdown() -> None:
    global _flag_group
    if dist.is_available() and dist.is_initialized():
        dist.barrier(group=_flag_group)  # no rank tears the group down while another still uses it
        dist.destroy_process_group()
    _flag_group = None


def average_gradients(params: Iterable[torch.nn.Parameter], size: int) -> None:
    """Replace each gradient by its mean over the ranks: one flattened all-reduce."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat.div_(size)
    torch._foreach_copy_(grads, [v.view_as(g) for v, g in zip(flat.split([g.numel() for g in grads]), grads)])


def average_buffers(nets: Iterable[torch.nn.Module], size: int) -> None:
    """Floating-point buffers (BatchNorm running statistics) -> their mean over the ranks."""
    bufs = [b for n in nets for b in n.buffers() if b.is_floating_point()]
    if bufs:
        flat = torch.cat([b.reshape(-1).float() for b in bufs])
        dist.all_reduce(flat)
        flat.div_(size)
        for b, v in zip(bufs, flat.split([b.numel() for b in bufs])):
            b.copy_(v.view_as(b))


def broadcast_nets(nets: Iterable[torch.nn.Module]) -> None:
    """Rank 0's parameters and buffers to every rank (all ranks then start identical)."""
    for n in nets:
        for t in list(n.parameters()) + list(n.buffers()):
            dist.broadcast(t.data, 0)


def mean_over_ranks(x: torch.Tensor, size: int) -> torch.Tensor:
    y = x.clone()
    dist.all_reduce(y)
    return y / size


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on any rank (the stop request)."""
    t = torch.tensor([1 if flag else 0], dtype=torch.int32)
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=_flag_group)
    return bool(t.item())


def gather(obj: Any, size: int) -> list[Any]:
    """Every rank's ``obj`` (picklable, CPU tensors), in rank order, on every rank."""
    out: list[Any] = [None] * size
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier(group=_flag_group)
