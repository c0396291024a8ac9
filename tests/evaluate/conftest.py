"""A smoothed and an unsmoothed swap of the demo's synthetic people, made once for the evaluation tests."""

from __future__ import annotations

import pytest
import torch

from tfvsdk.demo import synth_clips
from tfvsdk.editor import Editor


@pytest.fixture(scope="session")
def swaps(tmp_path_factory) -> dict:
    """{"alice", "bob", "smoothed", "unsmoothed"} → path: 16 frames at 160², 12 fps (dlib needs faces ≳ 80 px)."""
    pytest.importorskip("dlib")
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("swaps")
    clips = synth_clips(folder, size=160, frames=16, fps=12.0, noise=1.0, seed=0)
    sources = {"identity": clips["alice"].path, "target": clips["bob"].path}
    landmarks = {"identity": clips["alice"].landmarks, "target": clips["bob"].landmarks}
    paths = {"alice": clips["alice"].path, "bob": clips["bob"].path}
    for name, sigma in (("smoothed", 2.0), ("unsmoothed", 0.0)):
        paths[name] = folder / f"swap_{name}.mp4"
        Editor("swap", smoothing=sigma).run(sources, paths[name], landmarks=landmarks)
    return paths
