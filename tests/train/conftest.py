"""Fixtures of the training tests: a small synthetic dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import MODEL, SIZE

from tfvsdk.data.synth import SynthConfig, synthesize


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 images (8 identities) and 3 clips × 4 frames of 32² synthetic faces with ground-truth fits."""
    root = tmp_path_factory.mktemp("synth") / "data"
    synthesize(root, SynthConfig(images=8, videos=3, frames=4, size=SIZE, seed=1, model=MODEL[0], model_config=MODEL[1]))
    return root

