"""Real-image content for the metric tests: scikit-image's astronaut (NASA, public domain), when installed."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def astronaut() -> torch.Tensor:
    """(1, 3, 128, 128) float64 astronaut's head in [0, 1]."""
    data = pytest.importorskip("skimage.data")
    image = torch.from_numpy(data.astronaut()[0:256, 96:352].copy()).permute(2, 0, 1)[None].double() / 255
    return torch.nn.functional.avg_pool2d(image, 2)
