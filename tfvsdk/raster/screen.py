"""Screen-space helpers shared by the renderer, texture unwrapping and the 3-D flow.

Screen space (see :mod:`tfvsdk.camera`): pixels, origin at the top-left corner, x right, y down, pixel
centres at +0.5, z toward the viewer (larger = nearer).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..checks import check_tensor


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
    batch, height, width = triangle_id.shape
    pts = points.detach().reshape(batch, -1, 3)
    x, y, z = pts.unbind(-1)
    b = torch.arange(batch, device=pts.device)[:, None]
    ix0 = torch.floor(x - 0.5).long()
    iy0 = torch.floor(y - 0.5).long()
    best_d2 = torch.full_like(x, torch.inf)
    best_t = torch.full_like(ix0, -1)
    for dy in (0, 1):
        for dx in (0, 1):
            cx, cy = ix0 + dx, iy0 + dy
            inside = (cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)
            tid = triangle_id[b, cy.clamp(0, height - 1), cx.clamp(0, width - 1)].long()
            tid = torch.where(inside, tid, -1)
            d2 = (cx + 0.5 - x) ** 2 + (cy + 0.5 - y) ** 2
            better = (tid >= 0) & (d2 < best_d2)
            best_d2 = torch.where(better, d2, best_d2)
            best_t = torch.where(better, tid, best_t)
    found = best_t >= 0
    corners = vertices.detach()[b[..., None], triangles.long()[best_t.clamp(min=0)]].to(pts.dtype)  # (B, M, 3, 3)
    normal = torch.linalg.cross(corners[..., 1, :] - corners[..., 0, :], corners[..., 2, :] - corners[..., 0, :])
    nx, ny, nz = normal.unbind(-1)
    nz = torch.where(nz == 0, torch.full_like(nz, 1e-30), nz)
    depth = corners[..., 0, 2] - (nx * (x - corners[..., 0, 0]) + ny * (y - corners[..., 0, 1])) / nz
    slack = torch.hypot(nx, ny) / nz.abs() * best_d2.sqrt()
    visible = found & (z >= depth - tolerance - slack)
    return visible.reshape(points.shape[:-1])
