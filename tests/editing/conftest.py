"""Tiny synthetic source clips for the editing tests (built-in model, noisy landmarks), made once per session."""

from __future__ import annotations

import pytest
import torch

from tfvsdk.demo import synth_clips


@pytest.fixture(autouse=True)
def one_thread():
    """Editing runs many small tensor operations; one intra-op thread is faster on the shared 2-core CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    """alice, bob and carol: 10 frames of 96² at 10 fps each, with landmarks (1 px noise) and true fits."""
    torch.set_num_threads(1)
    return synth_clips(tmp_path_factory.mktemp("sources"), size=96, frames=10, fps=10.0, noise=1.0, seed=3)
