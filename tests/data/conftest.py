"""Fixtures of the data tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from dataset_helpers import make_dataset


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 identities × 2 images and 3 clips × 5 frames of 8×8 noise with random fits."""
    return make_dataset(tmp_path_factory.mktemp("tiny"))
