"""Hypothesis strategies for the SDK's records: cameras, coefficient vectors, fits and meshes."""

from __future__ import annotations

import math

import hypothesis.strategies as st
import numpy as np
import torch

from ..camera import Camera
from ..records import FaceFit


def _floats(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


@st.composite
def cameras(
    draw: st.DrawFn,
    batch: int = 1,
    max_angle: float = math.radians(60),
    scale: tuple[float, float] = (0.5, 3.0),
    image_size: tuple[int, int] = (256, 256),
) -> Camera:
    """Cameras with yaw/pitch/roll in ±``max_angle`` rad, a scale range and a translation inside the image."""
    angles = [[draw(_floats(-max_angle, max_angle)) for _ in range(3)] for _ in range(batch)]
    a = torch.tensor(angles, dtype=torch.float32)
    h, w = image_size
    return Camera.from_euler(
        a[:, 0],
        a[:, 1],
        a[:, 2],
        scale=torch.tensor([draw(_floats(*scale)) for _ in range(batch)]),
        translation=torch.tensor([[draw(_floats(0, w)), draw(_floats(0, h))] for _ in range(batch)]),
    )


@st.composite
def coefficients(draw: st.DrawFn, batch: int, size: int, scale: float = 3.0) -> torch.Tensor:
    """(batch, size) float32 coefficient vectors with entries in ±``scale`` (3 σ of an N(0, I) prior)."""
    values = draw(st.lists(_floats(-scale, scale), min_size=batch * size, max_size=batch * size))
    return torch.tensor(values, dtype=torch.float32).view(batch, size)


@st.composite
def face_fits(draw: st.DrawFn, n_id: int, n_exp: int, batch: int = 1, image_size: tuple[int, int] = (256, 256)) -> FaceFit:
    """Valid :class:`FaceFit` records for a model with ``n_id`` / ``n_exp`` coefficients."""
    return FaceFit(
        alpha_id=draw(coefficients(batch, n_id)),
        alpha_exp=draw(coefficients(batch, n_exp, scale=1.0)),
        camera=draw(cameras(batch=batch, image_size=image_size)),
        image_size=image_size,
    )


@st.composite
def meshes(
    draw: st.DrawFn,
    max_triangles: int = 12,
    image_size: tuple[int, int] = (32, 32),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random triangle soups in screen space: ((1, N, 3) vertices, (T, 3) int64 triangles).

    x, y lie within the image, extended by a quarter of its size on each side (so triangles get clipped);
    z in [−50, 50].
    """
    h, w = image_size
    n_tri = draw(st.integers(1, max_triangles))
    xs = draw(st.lists(_floats(-w / 4, 1.25 * w), min_size=3 * n_tri, max_size=3 * n_tri))
    ys = draw(st.lists(_floats(-h / 4, 1.25 * h), min_size=3 * n_tri, max_size=3 * n_tri))
    zs = draw(st.lists(_floats(-50, 50), min_size=3 * n_tri, max_size=3 * n_tri))
    vertices = torch.tensor(np.stack([xs, ys, zs], -1), dtype=torch.float32)[None]
    triangles = torch.arange(3 * n_tri, dtype=torch.int64).view(n_tri, 3)
    return vertices, triangles
