"""A face mesh for the flow tests: the built-in model when it exists, else the SFM, else a procedural dome."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import tfvsdk

SFM = Path(__file__).resolve().parents[3] / "shared" / "models" / "sfm_3448" / "sfm_3448.npz"


def _dome(n: int = 48) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    k = torch.linspace(-1, 1, n)
    gy, gx = torch.meshgrid(-k, k, indexing="ij")
    z = 0.7 * torch.sqrt((1.7 - gx**2 - gy**2).clamp(min=0)) + 0.3 * torch.exp(-(gx / 0.15) ** 2 - (gy / 0.4) ** 2)
    verts = torch.stack([gx, gy, z], -1).view(-1, 3) * 80
    idx = torch.arange(n * n).view(n, n)
    a, b, c, d = idx[:-1, :-1].flatten(), idx[:-1, 1:].flatten(), idx[1:, :-1].flatten(), idx[1:, 1:].flatten()
    tri = torch.cat([torch.stack([a, c, d], 1), torch.stack([a, d, b], 1)])
    uv = torch.stack([(gx + 1) / 2, (1 - gy) / 2], -1).view(-1, 2)
    return verts, tri, uv


@pytest.fixture(scope="module")
def face_mesh() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, str]:
    """(vertices (N, 3) model space, triangles (T, 3), uv (N, 2), name)."""
    try:
        model = tfvsdk.morphable.load_builtin()
    except ModuleNotFoundError:
        model = tfvsdk.morphable.load_npz(SFM) if SFM.exists() else None
    if model is None:
        verts, tri, uv = _dome()
        return verts, tri, uv, "dome"
    shape = model.shape(torch.zeros(1, model.n_id), torch.zeros(1, model.n_exp))[0]
    return shape, model.triangles, model.uv, model.name
