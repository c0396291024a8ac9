"""The per-point pass of :func:`tfvsdk.raster.visible_points` compiled with numba, in two kernels.

Same arithmetic, in the same order and the same dtype, as its PyTorch version in :mod:`tfvsdk.raster.screen`,
so both give identical results: every operation here is an IEEE add, subtract, multiply, divide or floor,
which PyTorch rounds the same way. The values that depend on PyTorch's own rounding come from PyTorch:
the per-triangle cross product (fused into a multiply-add) and ``hypot`` in ``planes``, and the
square root of the distance between the two kernels (PyTorch's ``sqrt`` is not correctly rounded on every
build: with MKL, one float32 value in five and one float64 value in seventy differ from IEEE ``sqrt`` by an
ulp).

Scalars that take part in the arithmetic (``half`` = 0.5, ``tolerance``) are passed in the points' dtype:
a float literal would promote float32 arithmetic to float64.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def nearest_centre(points, batch, triangle_id, half, best_t, best_d2) -> None:
    """Per point of (M, 3) ``points`` in image ``batch`` (M,): the triangle at the nearest covered pixel centre
    of the 2 × 2 block around it in (B, H, W) ``triangle_id`` (−1 where empty) and its squared distance to
    that centre, written into ``best_t`` (M,) (−1: none) and ``best_d2`` (M,) (unset where none)."""
    height, width = triangle_id.shape[1], triangle_id.shape[2]
    offsets = (half - half, half + half)
    for i in range(points.shape[0]):
        x, y = points[i, 0], points[i, 1]
        x0 = np.floor(x - half)
        y0 = np.floor(y - half)
        best_t[i] = -1
        for dy in offsets:
            cy = y0 + dy
            if not (cy >= 0 and cy < height):
                continue
            for dx in offsets:
                cx = x0 + dx
                if not (cx >= 0 and cx < width):
                    continue
                t = triangle_id[batch[i], int(cy), int(cx)]
                if t < 0:
                    continue
                ex = cx + half - x
                ey = cy + half - y
                d2 = ex * ex + ey * ey
                if best_t[i] < 0 or d2 < best_d2[i]:
                    best_d2[i] = d2
                    best_t[i] = t


@numba.njit(cache=True, nogil=True)
def depth_test(points, batch, best_t, distance, planes, tolerance, out) -> None:
    """out[i] (M,) = point i has a triangle ``best_t[i]`` and lies no deeper than that triangle's plane at the
    point, less ``tolerance`` and the slack ``|∇z| · distance[i]``; (B, T, 7) ``planes`` as ``_planes`` of
    :mod:`tfvsdk.raster.screen` gives them."""
    for i in range(points.shape[0]):
        if best_t[i] < 0:
            out[i] = False
            continue
        x, y, z = points[i, 0], points[i, 1], points[i, 2]
        p = planes[batch[i], best_t[i]]
        depth = p[2] - (p[3] * (x - p[0]) + p[4] * (y - p[1])) / p[5]
        out[i] = z >= depth - tolerance - p[6] * distance[i]
