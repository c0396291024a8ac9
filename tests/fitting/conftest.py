"""Models for the fitting tests: the built-in model and the SFM (skipped when absent), loaded once."""

from __future__ import annotations

import functools
import pickle

import numpy as np

import pytest

import tfvsdk
from tfvsdk_3ddfa.params import ParamStats


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every fitting test runs on one torch thread (see the root conftest's ``one_thread``)."""


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


@pytest.fixture
def stats(tmp_path) -> ParamStats:
    """A mean/std pickle in the layout of param_mean_std_62d_120x120.pkl (values of its magnitudes)."""
    rng = np.random.default_rng(0)
    mean = np.concatenate([[5e-4, 0, 0, 60, 0, 5e-4, 0, 74, 0, 0, 5e-4, -66], rng.normal(0, 1e4, 40), rng.normal(0, 0.5, 10)])
    std = np.concatenate([[2e-4] * 3 + [25] + [1e-4] * 3 + [7] + [3e-4] * 3 + [20], rng.uniform(1e4, 5e5, 40), rng.uniform(0.1, 1.6, 10)])
    path = tmp_path / "param_mean_std_62d_120x120.pkl"
    with open(path, "wb") as f:
        pickle.dump({"mean": mean.astype(np.float32), "std": std.astype(np.float32)}, f)
    return ParamStats.load(path)
