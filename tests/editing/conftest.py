"""Tiny synthetic source clips for the editing tests (built-in model, noisy landmarks), made once per session."""

from __future__ import annotations

import pytest
import torch

from tfvsdk.demo import synth_clips


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every editing test runs on one torch thread (see the root conftest's ``one_thread``)."""


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    """alice, bob and carol: 10 frames of 96² at 10 fps each, with landmarks (1 px noise) and true fits."""
    torch.set_num_threads(1)
    return synth_clips(tmp_path_factory.mktemp("sources"), size=96, frames=10, fps=10.0, noise=1.0, seed=3)
