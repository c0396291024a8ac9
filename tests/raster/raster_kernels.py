"""Choosing the raster module's CPU kernels in tests."""

from __future__ import annotations

import contextlib

import pytest

from tfvsdk.raster.ops import KERNEL_ENV

KERNELS = ["numba", "torch"]


@contextlib.contextmanager
def kernel(name: str):
    """Force the raster module's CPU kernels (rasterizer's discrete pass, visibility test) to numba or to
    pure PyTorch; skips the test for numba when it is not installed."""
    if name == "numba":
        pytest.importorskip("numba")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KERNEL_ENV, name)
        yield
