"""The discrete pass of the CPU rasterizer (coverage, depth test, barycentrics) compiled with numba.

Same arithmetic, in the same order, as :mod:`tfvsdk.raster._torch_kernel`, so both give bit-identical
results; see :mod:`tfvsdk.raster` for the coverage rule. One thread: on a shared CPU, numba's OpenMP
workers (which spin after a parallel region) and two-thread splits of the triangle list measured slower
than a single pass, which already takes ~1.5 ms for a 76k-triangle mesh at 256².
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _setup_vertices(pos: np.ndarray, height: int, width: int, out: np.ndarray) -> None:
    """Per vertex: pixel x, pixel y, z/w, 1/w (1/w = 0 marks a vertex with w <= 0)."""
    for i in range(pos.shape[0]):
        w = pos[i, 3]
        if w > 0.0:
            iw = 1.0 / w
            out[i, 0] = (pos[i, 0] * iw + 1.0) * (0.5 * width)
            out[i, 1] = (pos[i, 1] * iw + 1.0) * (0.5 * height)
            out[i, 2] = pos[i, 2] * iw
            out[i, 3] = iw
        else:
            out[i, 0] = 0.0
            out[i, 1] = 0.0
            out[i, 2] = 0.0
            out[i, 3] = 0.0


@numba.njit(cache=True, nogil=True, inline="always")
def _top_left(dx: float, dy: float) -> bool:
    return dy > 0.0 or (dy == 0.0 and dx < 0.0)


@numba.njit(cache=True, nogil=True)
def _raster_item(vert: np.ndarray, tri: np.ndarray, zbuf: np.ndarray, out: np.ndarray, count: np.ndarray) -> None:
    height, width = zbuf.shape
    counting = count.shape[0] > 0
    for t in range(tri.shape[0]):
        i0 = tri[t, 0]
        i1 = tri[t, 1]
        i2 = tri[t, 2]
        w0 = vert[i0, 3]
        w1 = vert[i1, 3]
        w2 = vert[i2, 3]
        if w0 == 0.0 or w1 == 0.0 or w2 == 0.0:
            continue
        x0 = vert[i0, 0]
        y0 = vert[i0, 1]
        x1 = vert[i1, 0]
        y1 = vert[i1, 1]
        x2 = vert[i2, 0]
        y2 = vert[i2, 1]
        xmin = min(x0, min(x1, x2))
        xmax = max(x0, max(x1, x2))
        ymin = min(y0, min(y1, y2))
        ymax = max(y0, max(y1, y2))
        if xmax < 0.5 or ymax < 0.5 or xmin > width - 0.5 or ymin > height - 0.5:
            continue
        px0 = int(math.ceil(max(xmin - 0.5, 0.0)))
        px1 = int(math.floor(min(xmax - 0.5, width - 1.0)))
        py0 = int(math.ceil(max(ymin - 0.5, 0.0)))
        py1 = int(math.floor(min(ymax - 0.5, height - 1.0)))
        if px0 > px1 or py0 > py1:
            continue
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        if area == 0.0 or not math.isfinite(area):
            continue
        s = 1.0 if area > 0.0 else -1.0
        tl0 = _top_left(s * (x2 - x1), s * (y2 - y1))
        tl1 = _top_left(s * (x0 - x2), s * (y0 - y2))
        tl2 = _top_left(s * (x1 - x0), s * (y1 - y0))
        z0 = vert[i0, 2]
        z1 = vert[i1, 2]
        z2 = vert[i2, 2]
        for py in range(py0, py1 + 1):
            cy = py + 0.5
            e0y = y0 - cy
            e1y = y1 - cy
            e2y = y2 - cy
            for px in range(px0, px1 + 1):
                cx = px + 0.5
                e0x = x0 - cx
                e1x = x1 - cx
                e2x = x2 - cx
                a0 = s * (e1x * e2y - e1y * e2x)
                if a0 < 0.0 or (a0 == 0.0 and not tl0):
                    continue
                a1 = s * (e2x * e0y - e2y * e0x)
                if a1 < 0.0 or (a1 == 0.0 and not tl1):
                    continue
                a2 = s * (e0x * e1y - e0y * e1x)
                if a2 < 0.0 or (a2 == 0.0 and not tl2):
                    continue
                sa = a0 + a1 + a2
                if sa <= 0.0:
                    continue
                zw = (a0 * z0 + a1 * z1 + a2 * z2) / sa
                if zw < -1.0 or zw > 1.0:
                    continue
                if counting:
                    count[py, px] += 1
                elif zw < zbuf[py, px]:
                    zbuf[py, px] = zw
                    q0 = a0 * w0
                    q1 = a1 * w1
                    qs = q0 + q1 + a2 * w2
                    out[py, px, 0] = q0 / qs
                    out[py, px, 1] = q1 / qs
                    out[py, px, 2] = zw
                    out[py, px, 3] = t + 1


@numba.njit(cache=True, nogil=True)
def _rasterize(pos: np.ndarray, tri: np.ndarray, out: np.ndarray, count: np.ndarray) -> None:
    """Rasterize every batch item: pos (B, N, 4), out (B, H, W, 4), count (B, 0, 0) or (B, H, W)."""
    vert = np.empty((pos.shape[1], 4))
    zbuf = np.empty(out.shape[1:3])
    for b in range(pos.shape[0]):
        _setup_vertices(pos[b], out.shape[1], out.shape[2], vert)
        zbuf.fill(np.inf)
        _raster_item(vert, tri, zbuf, out[b], count[b])


def rasterize(pos: np.ndarray, tri: np.ndarray, height: int, width: int, dtype: np.dtype) -> np.ndarray:
    """(B, N, 4) float64 clip positions, (T, 3) int32 → (B, H, W, 4) (u, v, z/w, id + 1) of ``dtype``."""
    out = np.zeros((pos.shape[0], height, width, 4), dtype)
    _rasterize(pos, tri, out, np.zeros((pos.shape[0], 0, 0), np.int32))
    return out


def coverage(pos: np.ndarray, tri: np.ndarray, height: int, width: int) -> np.ndarray:
    """(B, H, W) int32: how many triangles cover each pixel centre."""
    count = np.zeros((pos.shape[0], height, width), np.int32)
    _rasterize(pos, tri, np.zeros((pos.shape[0], height, width, 4)), count)
    return count
