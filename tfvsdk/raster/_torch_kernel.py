"""The discrete pass of the rasterizer in plain, vectorised PyTorch (any device; used without numba).

Every (triangle, pixel in its bounding box) pair is tested with the same float64 arithmetic, in the same
order, as :mod:`tfvsdk.raster._numba_kernel`; the nearest candidate per pixel wins (lowest triangle index on
equal depth). Pairs are processed in chunks so memory stays bounded for large triangles.
"""

from __future__ import annotations

from fractions import Fraction

import torch

_CHUNK_PAIRS = 1 << 18
ORIENT_ERROR = (3.0 + 16.0 * 2.0**-53) * 2.0**-53
"""Relative error bound of the float64 area (Shewchuk's ccwerrboundA): beyond it its sign is exact."""


def _top_left(dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    return (dy > 0) | ((dy == 0) & (dx < 0))


def exact_orientation(x0: float, y0: float, x1: float, y1: float, x2: float, y2: float) -> float:
    """The exact sign (−1, 0, 1) of the doubled signed area, in rational arithmetic (as the numba kernel's
    ``_exact_orientation``, which computes it with error-free float64 transformations)."""
    f = [Fraction(v) for v in (x0, y0, x1, y1, x2, y2)]
    det = (f[2] - f[0]) * (f[5] - f[1]) - (f[3] - f[1]) * (f[4] - f[0])
    return float((det > 0) - (det < 0))


def _orientation(x0, y0, x1, y1, x2, y2) -> torch.Tensor:
    """Per triangle, the sign of its float64 area where that is certain (beyond Shewchuk's error bound),
    else the exact sign; NaN for a non-finite area."""
    left = (x1 - x0) * (y2 - y0)
    right = (y1 - y0) * (x2 - x0)
    area = left - right
    sign = torch.where(area > 0, 1.0, -1.0).to(area.dtype)
    sign = torch.where(torch.isfinite(area), sign, torch.full_like(sign, float("nan")))
    unsure = (area.abs() <= ORIENT_ERROR * (left.abs() + right.abs())) & torch.isfinite(area)
    if bool(unsure.any()):
        corners = torch.stack([x0, y0, x1, y1, x2, y2], -1)[unsure].tolist()
        sign[unsure] = torch.tensor([exact_orientation(*c) for c in corners], dtype=sign.dtype, device=sign.device)
    return sign


def _vertices(pos: torch.Tensor, height: int, width: int) -> torch.Tensor:
    w = pos[..., 3]
    valid = w > 0
    iw = torch.where(valid, 1.0 / torch.where(valid, w, torch.ones_like(w)), torch.zeros_like(w))
    x = (pos[..., 0] * iw + 1.0) * (0.5 * width)
    y = (pos[..., 1] * iw + 1.0) * (0.5 * height)
    return torch.stack([x, y, pos[..., 2] * iw, iw], -1)


def _candidates(pos: torch.Tensor, tri: torch.Tensor, height: int, width: int):
    """Yield, chunk by chunk, the covered (batch, pixel, triangle) samples with a0, a1, a2, z/w and 1/w."""
    corners = _vertices(pos, height, width)[:, tri]  # (B, T, 3, 4)
    x, y, z, iw = corners.unbind(-1)
    x0, x1, x2 = x.unbind(-1)
    y0, y1, y2 = y.unbind(-1)
    xmin, xmax = x.amin(-1), x.amax(-1)
    ymin, ymax = y.amin(-1), y.amax(-1)
    orient = _orientation(x0, y0, x1, y1, x2, y2)
    px0 = torch.ceil((xmin - 0.5).clamp(min=0.0))
    px1 = torch.floor((xmax - 0.5).clamp(max=width - 1.0))
    py0 = torch.ceil((ymin - 0.5).clamp(min=0.0))
    py1 = torch.floor((ymax - 0.5).clamp(max=height - 1.0))
    keep = (
        (iw > 0).all(-1)
        & (orient != 0)
        & torch.isfinite(orient)
        & (xmax >= 0.5)
        & (ymax >= 0.5)
        & (xmin <= width - 0.5)
        & (ymin <= height - 0.5)
        & (px0 <= px1)
        & (py0 <= py1)
    )
    b_idx, t_idx = keep.nonzero(as_tuple=True)
    px0, py0 = px0[b_idx, t_idx].long(), py0[b_idx, t_idx].long()
    nx = px1[b_idx, t_idx].long() - px0 + 1
    ny = py1[b_idx, t_idx].long() - py0 + 1
    sizes = nx * ny
    ends = torch.cumsum(sizes, 0)
    start = 0
    while start < b_idx.numel():
        limit = (ends[start - 1] if start else 0) + _CHUNK_PAIRS
        stop = max(int(torch.searchsorted(ends, limit, right=True)), start + 1)
        sel = slice(start, stop)
        counts = sizes[sel]
        owner = torch.repeat_interleave(torch.arange(stop - start, device=pos.device), counts)
        local = torch.arange(int(counts.sum()), device=pos.device) - torch.repeat_interleave(
            torch.cumsum(counts, 0) - counts, counts
        )
        tb, tt = b_idx[sel][owner], t_idx[sel][owner]
        px = px0[sel][owner] + local % nx[sel][owner]
        py = py0[sel][owner] + torch.div(local, nx[sel][owner], rounding_mode="floor")
        yield tb, tt, py, px, _inside(corners[tb, tt], orient[tb, tt], px, py)
        start = stop


def _inside(c: torch.Tensor, orient: torch.Tensor, px: torch.Tensor, py: torch.Tensor):
    """Edge functions of pairs (``orient``: the triangles' orientations ±1): returns (covered mask, a0, a1, a2,
    z/w, (P, 3) 1/w of the corners)."""
    x0, x1, x2 = c[:, 0, 0], c[:, 1, 0], c[:, 2, 0]
    y0, y1, y2 = c[:, 0, 1], c[:, 1, 1], c[:, 2, 1]
    z0, z1, z2 = c[:, 0, 2], c[:, 1, 2], c[:, 2, 2]
    s = orient.to(c.dtype)
    cx = px.to(c.dtype) + 0.5
    cy = py.to(c.dtype) + 0.5
    e0x, e1x, e2x = x0 - cx, x1 - cx, x2 - cx
    e0y, e1y, e2y = y0 - cy, y1 - cy, y2 - cy
    a0 = s * (e1x * e2y - e1y * e2x)
    a1 = s * (e2x * e0y - e2y * e0x)
    a2 = s * (e0x * e1y - e0y * e1x)
    ok = (
        ((a0 > 0) | ((a0 == 0) & _top_left(s * (x2 - x1), s * (y2 - y1))))
        & ((a1 > 0) | ((a1 == 0) & _top_left(s * (x0 - x2), s * (y0 - y2))))
        & ((a2 > 0) | ((a2 == 0) & _top_left(s * (x1 - x0), s * (y1 - y0))))
    )
    sa = a0 + a1 + a2
    ok &= sa > 0
    zw = (a0 * z0 + a1 * z1 + a2 * z2) / torch.where(ok, sa, torch.ones_like(sa))
    ok &= (zw >= -1.0) & (zw <= 1.0)
    return ok, a0, a1, a2, zw, c[..., 3]


def rasterize(pos: torch.Tensor, tri: torch.Tensor, height: int, width: int, dtype: torch.dtype) -> torch.Tensor:
    """(B, N, 4) float64 clip positions, (T, 3) int64 → (B, H, W, 4) (u, v, z/w, id + 1) of ``dtype``."""
    batch = pos.shape[0]
    npix = batch * height * width
    best_z = torch.full((npix,), torch.inf, dtype=torch.float64, device=pos.device)
    best_t = torch.full((npix,), torch.iinfo(torch.int64).max, dtype=torch.int64, device=pos.device)
    winners = []
    for tb, tt, py, px, (ok, a0, a1, a2, zw, iw) in _candidates(pos, tri, height, width):
        pix = ((tb * height + py) * width + px)[ok]
        zw, tt = zw[ok], tt[ok]
        best_z.scatter_reduce_(0, pix, zw, "amin")
        winners.append((pix, tt, zw, a0[ok], a1[ok], a2[ok], iw[ok]))
    out = torch.zeros(npix, 4, dtype=torch.float64, device=pos.device)
    for pix, tt, zw, *_ in winners:
        nearest = zw == best_z[pix]
        best_t.scatter_reduce_(0, pix[nearest], tt[nearest], "amin")
    for pix, tt, zw, a0, a1, a2, iw in winners:
        win = (zw == best_z[pix]) & (tt == best_t[pix])
        q0 = a0[win] * iw[win, 0]
        q1 = a1[win] * iw[win, 1]
        qs = q0 + q1 + a2[win] * iw[win, 2]
        out[pix[win]] = torch.stack([q0 / qs, q1 / qs, zw[win], (tt[win] + 1).to(torch.float64)], -1)
    return out.view(batch, height, width, 4).to(dtype)


def coverage(pos: torch.Tensor, tri: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, H, W) int32: how many triangles cover each pixel centre."""
    count = torch.zeros(pos.shape[0] * height * width, dtype=torch.int32, device=pos.device)
    for tb, _, py, px, (ok, *_) in _candidates(pos, tri, height, width):
        pix = ((tb * height + py) * width + px)[ok]
        count.index_add_(0, pix, torch.ones_like(pix, dtype=torch.int32))
    return count.view(pos.shape[0], height, width)
