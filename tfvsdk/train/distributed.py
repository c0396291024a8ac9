"""Data-parallel training under ``torchrun``: process group, device, parameter broadcast, gradient averaging.

Under ``torchrun`` (environment ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``)
the trainer joins a process group — NCCL when it trains on CUDA, gloo on CPU — and every process trains a
replica on its own shard of the data. Replicas start from rank 0's parameters and stay identical because
every optimiser step uses gradients averaged over all processes (an all-reduce of one flat buffer per
parameter group), which is what ``DistributedDataParallel`` computes. The GAN step is not wrapped in
``DistributedDataParallel`` because one step runs E three times and D on real and fake images before the
backward passes, and trains G/E and D with separate backward passes over shared graphs; DDP's reducer
assumes one forward per backward over a fixed set of parameters. (StyleGAN2-ADA averages its gradients
the same way for the same reason.)
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Iterable

import attrs
import torch
import torch.distributed as dist

from ..errors import InputError

logger = logging.getLogger(__name__)


@attrs.frozen
class DistContext:
    """Where this process sits in a (possibly single-process) run.

    Attributes:
        rank: global rank (0 … world_size − 1).
        world_size: number of processes.
        local_rank: rank on this machine (selects the CUDA device).
        device: the device this process trains on.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = attrs.field(factory=lambda: torch.device("cpu"))

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that logs and writes checkpoints."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise InputError(f"environment variable {name}={value!r}: expected an integer") from None


def setup(device: str = "auto", timeout_s: float = 1800.0) -> DistContext:
    """Read torchrun's environment, pick the device and join the process group when ``WORLD_SIZE > 1``.

    Args:
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        timeout_s: process-group timeout, seconds.

    Returns:
        The context; a single process gets rank 0 of 1 and joins no group.
    """
    rank, world, local = _env_int("RANK", 0), _env_int("WORLD_SIZE", 1), _env_int("LOCAL_RANK", 0)
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise InputError("device 'cuda' requested, but torch has no CUDA device here")
    if use_cuda:
        torch.cuda.set_device(local % torch.cuda.device_count())
        target = torch.device("cuda", torch.cuda.current_device())
    else:
        target = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if use_cuda else "gloo"
        dist.init_process_group(backend, rank=rank, world_size=world, timeout=datetime.timedelta(seconds=timeout_s))
        logger.info("rank %d/%d joined the %s process group on %s", rank, world, backend, target)
    return DistContext(rank, world, local, target)


def teardown(context: DistContext) -> None:
    """Leave the process group (if this process joined one)."""
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_module(module: torch.nn.Module, context: DistContext) -> None:
    """Copy rank 0's parameters and buffers to every process (a no-op in a single process)."""
    if not context.distributed:
        return
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)


def average_gradients(parameters: Iterable[torch.nn.Parameter], context: DistContext) -> None:
    """Replace each gradient by its mean over the processes (one all-reduce of a flat buffer).

    Parameters without a gradient take part with zeros, so every process issues the same collective.
    """
    if not context.distributed:
        return
    params = [p for p in parameters if p.requires_grad]
    if not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= context.world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def all_mean(values: dict[str, float], context: DistContext) -> dict[str, float]:
    """Average scalar metrics over the processes (returned on every rank)."""
    if not context.distributed or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=context.device)
    dist.all_reduce(t)
    t /= context.world_size
    return dict(zip(keys, t.tolist()))


def barrier(context: DistContext) -> None:
    """Wait for every process (a no-op in a single process)."""
    if context.distributed:
        dist.barrier()
