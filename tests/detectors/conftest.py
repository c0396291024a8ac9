"""The detector tests render faces with the fitting tests' helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import tfvsdk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fitting"))


@pytest.fixture
def sfm(sfm_path) -> tfvsdk.MorphableModel:
    return tfvsdk.morphable.load_npz(sfm_path)
