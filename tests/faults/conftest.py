"""Fixtures of the fault-injection suite (helpers in fault_helpers.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tfvsdk.demo import synth_clips


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every fault test runs on one torch thread (see the root conftest's ``one_thread``)."""


@pytest.fixture(scope="session")
def sources(tmp_path_factory):
    """Two 8-frame 64² clips (alice, bob) with their landmarks saved as .npy files."""
    folder = tmp_path_factory.mktemp("fault-sources")
    clips = synth_clips(folder, size=64, frames=8, fps=8.0, noise=1.0, seed=5)
    for name, clip in clips.items():
        np.save(folder / f"{name}.npy", clip.landmarks)
    return folder
