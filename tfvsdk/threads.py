"""How many CPU threads the SDK's work uses, and OpenMP's idle behaviour for the ``tfv`` command.

torch's intra-op pool and the rasterizer's row-band split (:mod:`tfvsdk.raster`) follow
``torch.get_num_threads()``; :func:`set_threads` sets it. On a machine whose cores are busy with other work,
OpenMP workers that spin while waiting for their next task take turns with that work instead of
computing (``bench/threads.py``: a 16-frame landmark fit 15.5 s at 2 threads vs 0.36 s with
``OMP_WAIT_POLICY=PASSIVE``). Spinning is an OpenMP setting that the library reads once, when torch loads it,
so :func:`prefer_passive_openmp` must run before ``import torch``. ``import tfvsdk`` does not import torch (its
torch-based names load on first use), so :mod:`tfvsdk.cli` calls it first thing, before its own imports load
torch. A library user sets ``OMP_WAIT_POLICY=PASSIVE`` in the environment of their own process if they want it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

WAIT_POLICY_ENV = "OMP_WAIT_POLICY"


def available_cores() -> int:
    """The CPU cores this process may run on: ``tfv --threads``' default.

    With OpenMP waiting passively, all of them was the fastest setting measured on a busy 2-core machine
    (bench/threads.py, one core kept busy by another process: a 16-frame landmark fit 0.36 s at 2 threads vs
    0.93 s at 1; a training step 0.98 vs 4.3 s); with OpenMP spinning, 2 threads took 15.5 s and 52.6 s.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def prefer_passive_openmp() -> bool:
    """Ask OpenMP to sleep, not spin, while waiting (``OMP_WAIT_POLICY=PASSIVE``) unless the environment
    says otherwise.

    Returns:
        True when the setting takes effect: torch has not been imported yet in this process.
    """
    os.environ.setdefault(WAIT_POLICY_ENV, "PASSIVE")
    return "torch" not in sys.modules


def set_threads(threads: int) -> None:
    """Use ``threads`` CPU threads for torch's operations (and the rasterizer's band split).

    Raises:
        InputError: ``threads`` is not an integer ≥ 1.
    """
    import torch

    from .errors import InputError

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InputError(f"threads: expected an integer >= 1, got {threads!r}")
    torch.set_num_threads(threads)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the block on one torch thread, then restore the thread count.

    For work made of many small tensor operations, where waking a second OpenMP thread for each costs more
    than it saves: the landmark fit of a 48-frame clip (36 × 36 block Cholesky factorisations, 68-point
    residuals) took 0.81 s at 2 threads and 0.47 s in this block (passive OpenMP, 2-core machine).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
