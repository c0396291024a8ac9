"""Screen-space helpers shared by the renderer, texture unwrapping and the 3-D flow.

Screen space (see :mod:`tfvsdk.camera`): pixels, origin at the top-left corner, x right, y down, pixel
centres at +0.5, z toward the viewer (larger = nearer).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from types import ModuleType

import numpy as np
import torch

from ..checks import check_tensor
from .ops import KERNEL_ENV

_NUMBA_DTYPES = (torch.float32, torch.float64)


def screen_to_clip(vertices: torch.Tensor, image_size: Sequence[int], *, margin: float = 0.01) -> torch.Tensor:
    """Map screen-space vertices to clip space so that :func:`~tfvsdk.raster.rasterize` row ``py`` and column
    ``px`` are screen pixel (``px``, ``py``) — no vertical flip.

    ``x_c = 2x / W − 1``, ``y_c = 2y / H − 1``, ``w = 1``, and ``z_c = (z_mid − z) / (h (1 + margin))``
    with ``z_mid`` and ``h`` the middle and half-extent of each batch item's z range, so the nearest vertex
    gets the smallest z/w (nvdiffrast's depth order) and every z/w lies inside (−1, 1). The z mapping is
    detached: depth never carries gradients in the rasterizer.

    Args:
        vertices: (B, N, 3) screen-space vertices (pixels; z toward the viewer).
        image_size: (height, width) in pixels.
        margin: relative headroom kept between the z range and the clip planes.

    Returns:
        (B, N, 4) clip-space positions.
    """
    check_tensor("vertices", vertices, (None, None, 3))
    height, width = image_size
    z = vertices[..., 2].detach()
    low, high = z.amin(1, keepdim=True), z.amax(1, keepdim=True)
    half = ((high - low) / 2 * (1 + margin)).clamp(min=1e-6)
    x = 2 * vertices[..., 0] / width - 1
    y = 2 * vertices[..., 1] / height - 1
    zc = ((high + low) / 2 - z) / half
    return torch.stack([x, y, zc, torch.ones_like(x)], -1)


def visible_points(
    points: torch.Tensor,
    triangle_id: torch.Tensor,
    vertices: torch.Tensor,
    triangles: torch.Tensor,
    *,
    tolerance: float = 0.5,
) -> torch.Tensor:
    """Whether surface points lie on the visible surface of a rendering (its depth buffer read at sub-pixel
    positions).

    The depth buffer Z of a rendering is known exactly at pixel centres; at an arbitrary screen position
    (x, y) it is read as the plane of the triangle visible at the nearest covered pixel centre of the 2 × 2
    block around (x, y), evaluated at (x, y). A point (x, y, z) is visible when
    ``z ≥ Z(x, y) − tolerance − slack`` where ``slack = |∇z of that plane| · (distance to that centre)``
    bounds the error of extrapolating the plane across a triangle edge. Points with no covered pixel centre
    around them are not visible.

    Args:
        points: (B, ..., 3) screen-space points (pixels; z toward the viewer).
        triangle_id: (B, H, W) integer triangle index per pixel, −1 where empty (a rendering's buffer).
        vertices: (B, N, 3) screen-space vertices that rendering was made from.
        triangles: (T, 3) integer vertex indices.
        tolerance: depth tolerance in pixels (screen z units).

    Returns:
        (B, ...) bool.
    """
    batch = triangle_id.shape[0]
    flat = points.reshape(batch, -1, 3)
    item = torch.arange(batch, device=points.device).repeat_interleave(flat.shape[1])
    visible = visible_points_flat(flat.reshape(-1, 3), item, triangle_id, vertices, triangles, tolerance=tolerance)
    return visible.view(points.shape[:-1])


def visible_points_flat(
    points: torch.Tensor,
    batch: torch.Tensor,
    triangle_id: torch.Tensor,
    vertices: torch.Tensor,
    triangles: torch.Tensor,
    *,
    tolerance: float = 0.5,
) -> torch.Tensor:
    """:func:`visible_points` for a flat list of points from any batch items: point ``i`` is tested against
    rendering ``batch[i]``.

    For float32 / float64 points on the CPU the per-point pass runs as a numba kernel when numba is
    installed (``TFVSDK_RASTER_KERNEL=torch`` turns it off, as for the rasterizer), otherwise in PyTorch;
    both give the same result, bit for bit.

    Args:
        points: (M, 3) screen-space points.
        batch: (M,) integer batch item of each point.
        triangle_id: (B, H, W) triangle index per pixel, −1 where empty (as for :func:`visible_points`).
        vertices: (B, N, 3) screen-space vertices that rendering was made from.
        triangles: (T, 3) integer vertex indices.
        tolerance: depth tolerance in pixels.

    Returns:
        (M,) bool.
    """
    points = points.detach()
    planes = _planes(vertices, triangles, points.dtype)
    kernel = _numba_screen() if points.device.type == "cpu" and points.dtype in _NUMBA_DTYPES else None
    if kernel is None:
        return _visible(points, batch.long(), triangle_id, planes, tolerance)
    pts, item = points.contiguous().numpy(), batch.contiguous().numpy()
    half, tol = points.new_tensor([0.5, tolerance]).numpy()
    best_t = np.empty(len(pts), np.int64)
    best_d2 = np.empty(len(pts), pts.dtype)
    kernel.nearest_centre(pts, item, triangle_id.contiguous().numpy(), half, best_t, best_d2)
    distance = torch.from_numpy(best_d2).sqrt().numpy()
    out = np.empty(len(pts), np.bool_)
    kernel.depth_test(pts, item, best_t, distance, planes.numpy(), tol, out)
    return torch.from_numpy(out)


def _numba_screen() -> ModuleType | None:
    """:mod:`tfvsdk.raster._numba_screen`, or None without numba or with ``TFVSDK_RASTER_KERNEL=torch``."""
    return None if os.environ.get(KERNEL_ENV) == "torch" else _import_numba_screen()


@functools.cache
def _import_numba_screen() -> ModuleType | None:
    try:
        from . import _numba_screen as kernel
    except ImportError:
        return None
    return kernel


def _visible(
    points: torch.Tensor, batch: torch.Tensor, triangle_id: torch.Tensor, planes: torch.Tensor, tolerance: float
) -> torch.Tensor:
    """PyTorch version of :func:`visible_points_flat` given the (B, T, 7) ``planes``: (M,) bool."""
    _, height, width = triangle_id.shape
    x, y, z = points.unbind(-1)
    ix0 = torch.floor(x - 0.5).long()
    iy0 = torch.floor(y - 0.5).long()
    best_d2 = torch.full_like(x, torch.inf)
    best_t = torch.full_like(ix0, -1)
    for dy in (0, 1):
        for dx in (0, 1):
            cx, cy = ix0 + dx, iy0 + dy
            inside = (cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)
            tid = triangle_id[batch, cy.clamp(0, height - 1), cx.clamp(0, width - 1)].long()
            tid = torch.where(inside, tid, -1)
            d2 = (cx + 0.5 - x) ** 2 + (cy + 0.5 - y) ** 2
            better = (tid >= 0) & (d2 < best_d2)
            best_d2 = torch.where(better, d2, best_d2)
            best_t = torch.where(better, tid, best_t)
    x0, y0, z0, nx, ny, nz, grade = planes[batch, best_t.clamp(min=0)].unbind(-1)
    depth = z0 - (nx * (x - x0) + ny * (y - y0)) / nz
    slack = grade * best_d2.sqrt()
    return (best_t >= 0) & (z >= depth - tolerance - slack)


def _planes(vertices: torch.Tensor, triangles: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, T, 7) per triangle: its corner 0 (x, y, z), its normal (nx, ny, nz) with nz = 0 replaced by 1e-30
    and its depth slope |∇z| = hypot(nx, ny) / |nz|."""
    batch = vertices.shape[0]
    corners = vertices.detach().to(dtype).index_select(1, triangles.long().reshape(-1)).view(batch, -1, 3, 3)
    normal = torch.linalg.cross(corners[..., 1, :] - corners[..., 0, :], corners[..., 2, :] - corners[..., 0, :])
    nx, ny, nz = normal.unbind(-1)
    nz = torch.where(nz == 0, torch.full_like(nz, 1e-30), nz)
    return torch.stack([*corners[..., 0, :].unbind(-1), nx, ny, nz, torch.hypot(nx, ny) / nz.abs()], -1)
