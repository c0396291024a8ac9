"""How many CPU threads the SDK's work uses, and OpenMP's idle behaviour for the ``tfv`` command.

torch's intra-op pool and the rasterizer's row-band split (:mod:`tfvsdk.raster`) follow
``torch.get_num_threads()``; :func:`set_threads` sets it. On a machine whose cores are busy with other work,
OpenMP workers that spin while waiting for their next task take turns with that work instead of
computing: FINDINGS.md measured one landmark fit at 2.5 s with torch's default 2 threads vs 0.2 s with 1,
and ``bench/threads.py`` measures it on the current code. Spinning is an OpenMP setting that the library
reads once, when torch loads it, so :func:`prefer_passive_openmp` must run before ``import torch``; the
``tfv`` command does that (see :func:`tfvsdk.cli.main`). A library user sets ``OMP_WAIT_POLICY=PASSIVE`` in
the environment of their own process if they want it.
"""

from __future__ import annotations

import os
import sys

WAIT_POLICY_ENV = "OMP_WAIT_POLICY"
DEFAULT_THREADS = 1
"""``tfv``'s default: measured in bench/threads.py on the shared 2-core machine (see docs/guarantees.md)."""


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
