"""Models for the fitting tests: the built-in model and the SFM (skipped when absent), loaded once."""

from __future__ import annotations

import functools

import pytest

import torch

import tfvsdk


@pytest.fixture(autouse=True)
def one_thread():
    """Fitting runs many small tensor operations; on the shared 2-core CPU a second intra-op thread that
    waits for a busy core slows them by an order of magnitude, so these tests pin one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@functools.lru_cache(maxsize=None)
def _load(path: str) -> tfvsdk.MorphableModel:
    return tfvsdk.morphable.load_npz(path)


@functools.lru_cache(maxsize=1)
def _builtin() -> tfvsdk.MorphableModel:
    return tfvsdk.morphable.load_builtin()


@pytest.fixture
def sfm(sfm_path) -> tfvsdk.MorphableModel:
    return _load(str(sfm_path))


@pytest.fixture
def builtin() -> tfvsdk.MorphableModel:
    try:
        return _builtin()
    except ModuleNotFoundError as exc:
        pytest.skip(f"the built-in model generator is not available yet ({exc})")


@pytest.fixture(params=["builtin", "sfm"])
def model(request) -> tfvsdk.MorphableModel:
    """Each model the reconstructor must handle."""
    return request.getfixturevalue(request.param)
