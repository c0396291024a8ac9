"""Procedural meshes for the renderer tests (no model file needed)."""

from __future__ import annotations

import math

import pytest
import torch


def bump_grid(n: int = 41, size: float = 200.0, centre: tuple[float, float] = (128.0, 128.0)):
    """A face-like height field in screen space, mirror-symmetric in x: a dome with a ridge ("nose").

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


def smooth_texture(size: int = 128, batch: int = 1) -> torch.Tensor:
    """(batch, 3, size, size) smooth colourful texture in [0.1, 0.9]."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    tex = torch.stack(
        [0.5 + 0.4 * torch.sin(6 * xx), 0.5 + 0.4 * torch.cos(5 * yy), 0.5 + 0.3 * torch.sin(4 * (xx + yy) + math.pi / 3)]
    )
    return tex[None].expand(batch, -1, -1, -1).contiguous()
