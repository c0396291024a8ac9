"""Procedural meshes for the renderer tests (no model file needed)."""

from __future__ import annotations

import pytest
import torch


def bump_grid(n: int = 41, size: float = 200.0):
    """A face-like height field ``size`` units wide, mirror-symmetric in x: a dome with a ridge ("nose").

    Returns (model-space vertices (N, 3) with +y up and +z toward the viewer, counter-clockwise triangles
    seen from the front, uv (N, 2) with v downward, symmetry (N,)).
    """
    k = torch.linspace(-1, 1, n, dtype=torch.float64)
    gy, gx = torch.meshgrid(-k, k, indexing="ij")  # row 0 at the top (+y)
    z = 0.6 * torch.sqrt((1.6 - gx**2 - gy**2).clamp(min=0)) + 0.35 * torch.exp(-(gx / 0.12) ** 2 - ((gy + 0.05) / 0.35) ** 2)
    verts = torch.stack([gx, gy, z], -1).view(-1, 3) * size / 2
    idx = torch.arange(n * n).view(n, n)
    a, b, c, d = idx[:-1, :-1].flatten(), idx[:-1, 1:].flatten(), idx[1:, :-1].flatten(), idx[1:, 1:].flatten()
    # a b / c d, rows going down (−y): a→c→d is counter-clockwise seen from +z
    tri = torch.cat([torch.stack([a, c, d], 1), torch.stack([a, d, b], 1)])
    uv = torch.stack([(gx + 1) / 2, (1 - gy) / 2], -1).view(-1, 2)
    symmetry = idx.flip(1).flatten()
    return verts.float(), tri, uv.float(), symmetry


@pytest.fixture
def bump():
    return bump_grid()
