"""The discrete pass of the CPU rasterizer (coverage, depth test, barycentrics) compiled with numba.

Same arithmetic, in the same order, as :mod:`tfvsdk.raster._torch_kernel`, so both give bit-identical
results; see :mod:`tfvsdk.raster` for the coverage rule. Per vertex, the kernel first stores its pixel
position and the range of pixel centres its coordinates round to, so a triangle's bounding box costs
three integer min / max; every pixel centre in the box then gets the exact edge-function test, and the
nearest covering triangle (the first one on equal depth) writes u, v, z/w and its index + 1.

When the caller allows two threads or more, frames with at least ``_THREADED_WORK`` triangles + pixels may be
split into two row bands, rows [H/2, H) rasterised by a worker thread — only where timing both ways on the
machine shows that the split pays (:class:`_SplitChooser`; on a busy machine it was 8–37 % slower); each band walks all triangles in order and keeps the pixels of its rows,
so the result does not change. Measured on a shared 2-core VM (76k-triangle mesh at 256², ~91k pixel
tests, ~40k covered pixels): one thread ~1.9-2.1 ms, was ~2.3-2.4 ms with a float box per triangle (now
~0.2 ms vertex setup, ~0.35 ms boxes, ~1.1 ms pixel tests); two bands ~1.5 ms when the second core is
idle, little gain when it is busy; waking the worker costs ~0.1 ms there, hence the threshold. Slower or
no better: branch-free pixel tests (z/w for every tested pixel), a flat loop over the box, staged
triangle / pixel batches, per-pixel winner ids resolved after the loop, and splitting the vertex setup
over both threads (one more wake-up). Splitting the triangle list instead (a whole-frame buffer per thread,
merged where the second is strictly nearer) measured ~10 % faster at 256² for the 76k-triangle mesh but
30–60 % slower at 512², where each thread writes the whole frame.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import statistics
import time

import numba
import numpy as np

_THREADED_WORK = 1 << 15
"""Triangles + pixels of one frame from which the second row band runs on a worker thread."""

_workers: dict[int, concurrent.futures.ThreadPoolExecutor] = {}


@numba.njit(cache=True, nogil=True)
def _setup_vertices(pos: np.ndarray, height: int, width: int, vert: np.ndarray, span: np.ndarray) -> None:
    """vert: (x, y, z/w, 1/w) per vertex in pixels; span: (x0, x1, y0, y1), the pixel centres from
    ceil(x − ½) to floor(x − ½) clamped to the image, likewise for y. A vertex with w <= 0 gets x = NaN,
    which makes the area of its triangles NaN, so they are skipped."""
    for i in range(pos.shape[0]):
        w = pos[i, 3]
        x = np.nan
        y = z = iw = 0.0
        if w > 0.0:
            iw = 1.0 / w
            x = (pos[i, 0] * iw + 1.0) * (0.5 * width)
            y = (pos[i, 1] * iw + 1.0) * (0.5 * height)
            z = pos[i, 2] * iw
        vert[i, 0] = x
        vert[i, 1] = y
        vert[i, 2] = z
        vert[i, 3] = iw
        if not (math.isfinite(x) and math.isfinite(y)):
            x = y = 0.5  # any range: the triangle's area is not finite
        span[i, 0] = min(max(np.ceil(x - 0.5), 0.0), width)
        span[i, 1] = min(max(np.floor(x - 0.5), -1.0), width - 1.0)
        span[i, 2] = min(max(np.ceil(y - 0.5), 0.0), height)
        span[i, 3] = min(max(np.floor(y - 0.5), -1.0), height - 1.0)


ORIENT_ERROR = (3.0 + 16.0 * 2.0**-53) * 2.0**-53
"""Relative error bound of the float64 area (Shewchuk's ccwerrboundA): beyond it its sign is exact."""


@numba.njit(cache=True, nogil=True, inline="always")
def _two_sum(a: float, b: float) -> tuple[float, float]:
    s = a + b
    bv = s - a
    return s, (a - (s - bv)) + (b - bv)


@numba.njit(cache=True, nogil=True, inline="always")
def _two_product(a: float, b: float) -> tuple[float, float]:
    p = a * b
    c = 134217729.0 * a  # Veltkamp split at 2**27 + 1
    ah = c - (c - a)
    c = 134217729.0 * b
    bh = c - (c - b)
    al = a - ah
    bl = b - bh
    return p, al * bl - (((p - ah * bh) - al * bh) - ah * bl)


@numba.njit(cache=True, nogil=True)
def _exact_orientation(x0: float, y0: float, x1: float, y1: float, x2: float, y2: float) -> float:
    """The exact sign (−1, 0, 1) of the doubled signed area x1y2 − x1y0 − x0y2 − x2y1 + x0y1 + x2y0: each
    product split into two doubles exactly, the twelve summed into a non-overlapping expansion (Shewchuk's
    grow-expansion) whose largest component carries the sign."""
    terms = np.empty(12)
    pairs = ((x1, y2), (x0, y1), (x2, y0), (-x1, y0), (-x0, y2), (-x2, y1))
    for k in range(6):
        terms[2 * k], terms[2 * k + 1] = _two_product(pairs[k][0], pairs[k][1])
    expansion = np.zeros(12)
    for n in range(12):
        q = terms[n]
        for i in range(n):
            q, expansion[i] = _two_sum(q, expansion[i])
        expansion[n] = q
    for i in range(11, -1, -1):
        if expansion[i] != 0.0:
            return 1.0 if expansion[i] > 0.0 else -1.0
    return 0.0


@numba.njit(cache=True, nogil=True, inline="always")
def _top_left(dx: float, dy: float) -> bool:
    return (dy > 0.0) | ((dy == 0.0) & (dx < 0.0))


@numba.njit(cache=True, nogil=True)
def _raster_rows(vert, span, tri, row0: int, row1: int, width: int, zbuf, out, count) -> None:
    """Rasterize every triangle into pixel rows [row0, row1) of zbuf (H·W), out (H·W, 4) and count (H·W;
    empty when not counting). tri is unsigned so that indexing skips the negative-index wraparound."""
    counting = count.shape[0] > 0
    for t in range(tri.shape[0]):
        i0 = tri[t, 0]
        i1 = tri[t, 1]
        i2 = tri[t, 2]
        px0 = min(span[i0, 0], min(span[i1, 0], span[i2, 0]))
        px1 = max(span[i0, 1], max(span[i1, 1], span[i2, 1]))
        if px0 > px1:
            continue
        py0 = max(min(span[i0, 2], min(span[i1, 2], span[i2, 2])), row0)
        py1 = min(max(span[i0, 3], max(span[i1, 3], span[i2, 3])), row1 - 1)
        if py0 > py1:
            continue
        x0 = vert[i0, 0]
        y0 = vert[i0, 1]
        x1 = vert[i1, 0]
        y1 = vert[i1, 1]
        x2 = vert[i2, 0]
        y2 = vert[i2, 1]
        left = (x1 - x0) * (y2 - y0)
        right = (y1 - y0) * (x2 - x0)
        area = left - right
        if not abs(area) < np.inf:
            continue
        s = 1.0 if area > 0.0 else -1.0
        if abs(area) <= ORIENT_ERROR * (abs(left) + abs(right)):
            s = _exact_orientation(x0, y0, x1, y1, x2, y2)
            if s == 0.0:
                continue
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
                if a0 < 0.0 or (a0 == 0.0 and not _top_left(s * (x2 - x1), s * (y2 - y1))):
                    continue
                a1 = s * (e2x * e0y - e2y * e0x)
                if a1 < 0.0 or (a1 == 0.0 and not _top_left(s * (x0 - x2), s * (y0 - y2))):
                    continue
                a2 = s * (e0x * e1y - e0y * e1x)
                if a2 < 0.0 or (a2 == 0.0 and not _top_left(s * (x1 - x0), s * (y1 - y0))):
                    continue
                sa = a0 + a1 + a2
                if sa <= 0.0:
                    continue
                zw = (a0 * vert[i0, 2] + a1 * vert[i1, 2] + a2 * vert[i2, 2]) / sa
                if zw < -1.0 or zw > 1.0:
                    continue
                p = np.uint64(py * width + px)
                if counting:
                    count[p] += 1
                elif zw < zbuf[p]:
                    zbuf[p] = zw
                    q0 = a0 * vert[i0, 3]
                    q1 = a1 * vert[i1, 3]
                    qs = q0 + q1 + a2 * vert[i2, 3]
                    out[p, 0] = q0 / qs
                    out[p, 1] = q1 / qs
                    out[p, 2] = zw
                    out[p, 3] = t + 1


@numba.njit(cache=True, nogil=True)
def _raster_band(pos, tri, row0: int, row1: int, zbuf, out, count) -> None:
    """Rows [row0, row1) of one batch item: pos (N, 4), zbuf (H·W), out (H, W, 4), count (H, W) or (0, 0)."""
    height, width = out.shape[:2]
    vert = np.empty((pos.shape[0], 4))
    span = np.empty((pos.shape[0], 4), np.int32)
    _setup_vertices(pos, height, width, vert, span)
    _raster_rows(vert, span, tri, row0, row1, width, zbuf, out.reshape((-1, 4)), count.reshape(-1))


def _worker() -> concurrent.futures.ThreadPoolExecutor:
    """One worker thread per process (a forked child gets its own)."""
    pid = os.getpid()
    if pid not in _workers:
        _workers[pid] = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tfvsdk-raster")
    return _workers[pid]


BAND_SPLIT = "auto"
"""``"auto"``: split a frame into two row bands when timing says it pays (:class:`_SplitChooser`);
``"always"`` / ``"never"`` force it (for benches and tests). Only where two threads are allowed."""


class _SplitChooser:
    """Learns, for one kind of frame, whether the two-band split is faster than one band right now.

    The first calls alternate between both ways until each has been timed ``PROBES`` times, then the way
    with the lower median is used; every ``REPROBE`` calls the timings are dropped and learnt again (the
    load of a shared machine changes). Both ways give identical results, so switching never changes them.
    """

    PROBES = 3
    REPROBE = 256

    def __init__(self) -> None:
        self.seconds: dict[bool, list[float]] = {True: [], False: []}
        self.calls = 0

    def choose(self) -> bool:
        self.calls += 1
        if self.calls % self.REPROBE == 0:
            self.seconds = {True: [], False: []}
        for split in (True, False):
            if len(self.seconds[split]) < self.PROBES:
                return split
        return statistics.median(self.seconds[True]) < statistics.median(self.seconds[False])

    def record(self, split: bool, seconds: float) -> None:
        if len(self.seconds[split]) < self.PROBES:
            self.seconds[split].append(seconds)


_choosers: dict[tuple[int, int, int], _SplitChooser] = {}


def _split_rows(threads: int, n_triangles: int, height: int, width: int) -> _SplitChooser | bool:
    """False (one band), True (two), or the chooser that decides per frame."""
    if threads < 2 or n_triangles + height * width < _THREADED_WORK or BAND_SPLIT == "never":
        return False
    if BAND_SPLIT == "always":
        return True
    return _choosers.setdefault((height, width, n_triangles.bit_length()), _SplitChooser())


def _rasterize(pos: np.ndarray, tri: np.ndarray, out: np.ndarray, count: np.ndarray, threads: int) -> None:
    """Rasterize every batch item: pos (B, N, 4), out (B, H, W, 4), count (B, 0, 0) or (B, H, W), on up to
    ``threads`` threads (1 or 2 are used)."""
    height, width = out.shape[1:3]
    tri = tri.view(np.uint32)  # indices are checked to lie in [0, N)
    zbuf = np.empty(height * width)
    policy = _split_rows(threads, tri.shape[0], height, width)
    for b in range(pos.shape[0]):
        split = policy.choose() if isinstance(policy, _SplitChooser) else policy
        started = time.perf_counter()
        zbuf.fill(np.inf)
        job = None
        rows = height // 2 if split else height
        if split:
            job = _worker().submit(_raster_band, pos[b], tri, rows, height, zbuf, out[b], count[b])
        _raster_band(pos[b], tri, 0, rows, zbuf, out[b], count[b])
        if job is not None:
            job.result()
        if isinstance(policy, _SplitChooser):
            policy.record(split, time.perf_counter() - started)


def rasterize(pos: np.ndarray, tri: np.ndarray, height: int, width: int, dtype: np.dtype, threads: int) -> np.ndarray:
    """(B, N, 4) float64 clip positions, (T, 3) int32 → (B, H, W, 4) (u, v, z/w, id + 1) of ``dtype``."""
    out = np.zeros((pos.shape[0], height, width, 4), dtype)
    _rasterize(pos, tri, out, np.zeros((pos.shape[0], 0, 0), np.int32), threads)
    return out


def coverage(pos: np.ndarray, tri: np.ndarray, height: int, width: int, threads: int) -> np.ndarray:
    """(B, H, W) int32: how many triangles cover each pixel centre."""
    count = np.zeros((pos.shape[0], height, width), np.int32)
    _rasterize(pos, tri, np.zeros((pos.shape[0], height, width, 4)), count, threads)
    return count
