"""Benchmark: the SDK rasterizer vs a plain vectorised PyTorch rasterizer, ms per frame (B = 1).

Meshes fill most of the frame. Measured in one run: ``tfvsdk.raster.rasterize`` with its numba kernel
(the default on a CPU), the same with its pure-PyTorch kernel (``TFVSDK_RASTER_KERNEL=torch``), and the
naive baseline written below (bounding boxes + edge functions + ``scatter_reduce``, float32, as in
FINDINGS.md). Each figure is the minimum over repeats of the mean of a block of calls.

Usage: ``python bench/raster.py [--repeats 7] [--threads 2]``; ``--split`` instead times the numba kernel's
two-row-band split at 2 threads: off, always, and the kernel's timed choice (``auto``), interleaved.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

import tfvsdk
from tfvsdk.raster import rasterize, screen_to_clip
from tfvsdk.raster.ops import KERNEL_ENV

SFM = Path(__file__).resolve().parents[2] / "shared" / "models" / "sfm_3448" / "sfm_3448.npz"
SIM3DR_MS = {"SFM": (2.1, 7.1), "dense": (3.0, 8.3), "SFM ×4²": (5.2, 12.4)}  # FINDINGS.md, not measured here


def naive_rasterize(pos: torch.Tensor, tri: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Plain vectorised rasterizer: every (triangle, pixel-in-bbox) pair, nearest z/w by scatter_reduce.

    Returns (B, H, W, 4) (u, v, z/w, id + 1) like ``rasterize`` (w = 1 assumed, no tie rule).
    """
    out = torch.zeros(pos.shape[0], height, width, 4)
    for b in range(pos.shape[0]):
        p = pos[b]
        x = (p[:, 0] + 1) * width / 2
        y = (p[:, 1] + 1) * height / 2
        z = p[:, 2]
        tx, ty, tz = x[tri], y[tri], z[tri]  # (T, 3)
        x0 = torch.ceil(tx.min(1).values - 0.5).clamp(min=0).long()
        x1 = torch.floor(tx.max(1).values - 0.5).clamp(max=width - 1).long()
        y0 = torch.ceil(ty.min(1).values - 0.5).clamp(min=0).long()
        y1 = torch.floor(ty.max(1).values - 0.5).clamp(max=height - 1).long()
        nx, ny = (x1 - x0 + 1).clamp(min=0), (y1 - y0 + 1).clamp(min=0)
        count = nx * ny
        t = torch.repeat_interleave(torch.arange(len(tri)), count)
        local = torch.arange(int(count.sum())) - torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
        px = x0[t] + local % nx[t]
        py = y0[t] + local // nx[t]
        cx, cy = px + 0.5, py + 0.5
        ax, ay, bx, by, qx, qy = tx[t, 0], ty[t, 0], tx[t, 1], ty[t, 1], tx[t, 2], ty[t, 2]
        area = (bx - ax) * (qy - ay) - (by - ay) * (qx - ax)
        w0 = ((bx - cx) * (qy - cy) - (by - cy) * (qx - cx)) / area
        w1 = ((qx - cx) * (ay - cy) - (qy - cy) * (ax - cx)) / area
        w2 = 1 - w0 - w1
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (area != 0)
        zw = w0 * tz[t, 0] + w1 * tz[t, 1] + w2 * tz[t, 2]
        pix = (py * width + px)[inside]
        zw, t, w0, w1 = zw[inside], t[inside], w0[inside], w1[inside]
        best = torch.full((height * width,), torch.inf).scatter_reduce(0, pix, zw, "amin")
        win = zw == best[pix]
        flat = out[b].view(-1, 4)
        flat[pix[win]] = torch.stack([w0[win], w1[win], zw[win], (t[win] + 1).float()], -1)
    return out


def grid_face(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A face-like height field with n × n vertices (model units ~ ±80, +z toward the viewer)."""
    k = torch.linspace(-1, 1, n)
    gy, gx = torch.meshgrid(-k, k, indexing="ij")
    z = 0.7 * torch.sqrt((1.7 - gx**2 - gy**2).clamp(min=0)) + 0.3 * torch.exp(-(gx / 0.15) ** 2 - (gy / 0.4) ** 2)
    verts = torch.stack([gx * 0.8, gy, z], -1).view(-1, 3) * 80
    idx = torch.arange(n * n).view(n, n)
    a, b, c, d = idx[:-1, :-1].flatten(), idx[:-1, 1:].flatten(), idx[1:, :-1].flatten(), idx[1:, 1:].flatten()
    return verts, torch.cat([torch.stack([a, c, d], 1), torch.stack([a, d, b], 1)])


def subdivide(verts: torch.Tensor, tri: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Midpoint subdivision: every triangle into four."""
    edges = torch.cat([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]).sort(1).values
    unique, inverse = torch.unique(edges, dim=0, return_inverse=True)
    mid = len(verts) + inverse.view(3, -1)
    verts = torch.cat([verts, verts[unique].mean(1)])
    a, b, c = tri.T
    m01, m12, m20 = mid
    return verts, torch.cat([torch.stack(s, 1) for s in ((a, m01, m20), (b, m12, m01), (c, m20, m12), (m01, m12, m20))])


def meshes() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    found: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    if SFM.exists():
        model = tfvsdk.morphable.load_npz(SFM)
        sfm = (model.mean, model.triangles)
        found["SFM"] = sfm
    else:
        found["SFM"] = grid_face(59)  # 3,481 v / 6,728 t stand-in
    found["dense"] = grid_face(196)  # 38,416 v / 76,050 t: the size of 3DDFA's BFM
    if SFM.exists():
        found["SFM ×4²"] = subdivide(*subdivide(*sfm))
    return found


def clip_positions(verts: torch.Tensor, size: int) -> torch.Tensor:
    extent = float(verts[:, :2].max(0).values.sub(verts[:, :2].min(0).values).max())
    cam = tfvsdk.Camera.from_euler(
        torch.tensor([0.3]), torch.tensor([0.1]), torch.zeros(1),
        scale=torch.tensor([0.9 * size / extent]), translation=torch.tensor([[size / 2, size / 2]]),
    )
    return screen_to_clip(cam.project(verts[None]), (size, size))


def timed(fn, repeats: int, budget: float = 0.25) -> float:
    fn()
    start = time.perf_counter()
    fn()
    calls = max(1, int(budget / max(time.perf_counter() - start, 1e-6)))
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e3


def split_table(repeats: int) -> None:
    """numba kernel at 2 threads: one band, always two bands, and the timed choice, interleaved."""
    from tfvsdk.raster import _numba_kernel

    torch.set_num_threads(2)
    os.environ[KERNEL_ENV] = "numba"
    print(f"load average {os.getloadavg()[0]:.2f}; 2 torch threads; min and median of {repeats} interleaved repeats (ms)")
    print("| mesh | size | one band | two bands | auto (timed choice) | auto chose two bands |")
    print("|---|---|---|---|---|---|")
    for name, (verts, tri) in meshes().items():
        for size in (256, 512):
            pos, tri32 = clip_positions(verts, size), tri.int()
            times: dict[str, list[float]] = {"never": [], "always": [], "auto": []}
            for _ in range(repeats):
                for policy in times:
                    _numba_kernel.BAND_SPLIT = policy
                    times[policy].append(timed(lambda: rasterize(pos, tri32, (size, size)), 1, budget=0.1))
            chooser = next((c for k, c in _numba_kernel._choosers.items() if k[:2] == (size, size)), None)
            chose = "—" if chooser is None else str(chooser.choose())
            cells = " | ".join(f"{min(v):.2f} / {np.median(v):.2f}" for v in times.values())
            print(f"| {name} | {size}² | {cells} | {chose} |")
            _numba_kernel._choosers.clear()
    _numba_kernel.BAND_SPLIT = "auto"
    os.environ.pop(KERNEL_ENV, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--split", action="store_true", help="instead: the row-band split at 2 threads, on / off / auto")
    args = parser.parse_args()
    if args.split:
        split_table(args.repeats)
        return
    torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.2f}; torch threads {args.threads}; min of {args.repeats} repeats")
    header = "| mesh | V / T | size | SDK numba (ms) | SDK pure torch (ms) | naive torch (ms) | naive / SDK | Sim3DR (FINDINGS) |"
    print(header)
    print("|" + "---|" * 8)
    for name, (verts, tri) in meshes().items():
        for size in (256, 512):
            pos = clip_positions(verts, size)
            tri32 = tri.int()
            os.environ[KERNEL_ENV] = "numba"
            ours = rasterize(pos, tri32, (size, size))
            t_numba = timed(lambda: rasterize(pos, tri32, (size, size)), args.repeats)
            os.environ[KERNEL_ENV] = "torch"
            t_torch = timed(lambda: rasterize(pos, tri32, (size, size)), max(2, args.repeats // 2))
            t_naive = timed(lambda: naive_rasterize(pos, tri.long(), size, size), max(2, args.repeats // 2))
            agree = (naive_rasterize(pos, tri.long(), size, size)[..., 3] == ours[..., 3]).float().mean()
            sim = SIM3DR_MS.get(name, (float("nan"),) * 2)[0 if size == 256 else 1]
            print(
                f"| {name} | {len(verts):,} / {len(tri):,} | {size}² | {t_numba:.2f} | {t_torch:.1f} | {t_naive:.1f} | "
                f"{t_naive / t_numba:.1f}× | {sim} |  (ids agree with naive on {100 * agree:.2f}% of pixels)"
            )
    os.environ.pop(KERNEL_ENV, None)


if __name__ == "__main__":
    main()
