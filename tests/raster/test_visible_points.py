"""visible_points: the numba and the PyTorch per-point pass both compute the depth test of the docstring to the
last bit, checked against a point-by-point reference at the exact threshold and one ulp below it."""

from __future__ import annotations

import math

import pytest
import torch

import tfvsdk
from tfvsdk.raster import interpolate, rasterize, screen_to_clip, visible_points
from tfvsdk.raster.screen import visible_points_flat

from raster_kernels import KERNELS, kernel

DTYPES = [torch.float32, torch.float64]
TOLERANCES = [0.0, 0.5, 1 / 3]


def reference_threshold(points, triangle_id, vertices, triangles, tolerance):
    """(B, P) whether a point has a covered pixel centre around it, and the depth ``Z − tolerance − slack`` its z
    must reach: the docstring's definition, each point's triangle gathered and its plane evaluated for that
    point alone, in the points' dtype."""
    batch, height, width = triangle_id.shape
    x, y = points[..., 0], points[..., 1]
    b = torch.arange(batch)[:, None]
    ix0, iy0 = torch.floor(x - 0.5).long(), torch.floor(y - 0.5).long()
    best_d2 = torch.full_like(x, torch.inf)
    best_t = torch.full_like(ix0, -1)
    for dy in (0, 1):
        for dx in (0, 1):
            cx, cy = ix0 + dx, iy0 + dy
            inside = (cx >= 0) & (cx < width) & (cy >= 0) & (cy < height)
            tid = torch.where(inside, triangle_id[b, cy.clamp(0, height - 1), cx.clamp(0, width - 1)], -1)
            d2 = (cx + 0.5 - x) ** 2 + (cy + 0.5 - y) ** 2
            better = (tid >= 0) & (d2 < best_d2)
            best_d2 = torch.where(better, d2, best_d2)
            best_t = torch.where(better, tid, best_t)
    corners = vertices[b[..., None], triangles[best_t.clamp(min=0)]].to(points.dtype)  # (B, P, 3, 3)
    normal = torch.linalg.cross(corners[..., 1, :] - corners[..., 0, :], corners[..., 2, :] - corners[..., 0, :])
    nx, ny, nz = normal.unbind(-1)
    nz = torch.where(nz == 0, torch.full_like(nz, 1e-30), nz)
    depth = corners[..., 0, 2] - (nx * (x - corners[..., 0, 0]) + ny * (y - corners[..., 0, 1])) / nz
    slack = torch.hypot(nx, ny) / nz.abs() * best_d2.sqrt()
    return best_t >= 0, depth - tolerance - slack


def random_scene(seed: int, dtype: torch.dtype):
    """A soup of 80 random triangles over a 40 × 50 image, and points over and around it, a tenth of them on
    pixel centres and a tenth on pixel corners."""
    g = torch.Generator().manual_seed(seed)
    height, width = 40, 50
    extent = torch.tensor([width, height, 50.0], dtype=dtype)
    z_only = torch.tensor([0.0, 0.0, 1.0], dtype=dtype)
    vertices = (torch.rand(3, 60, 3, generator=g, dtype=dtype) * 1.2 - 0.1) * extent - extent * 0.5 * z_only
    triangles = torch.randint(0, 60, (80, 3), generator=g)
    triangle_id = rasterize(screen_to_clip(vertices, (height, width)), triangles, (height, width))[..., 3].long() - 1
    points = (torch.rand(3, 5000, 3, generator=g, dtype=dtype) * 1.4 - 0.2) * extent - extent * 0.6 * z_only
    points[:, :500, :2] = torch.floor(points[:, :500, :2]) + 0.5
    points[:, 500:1000, :2] = torch.floor(points[:, 500:1000, :2])
    return points, triangle_id, vertices, triangles


def face_scene(dtype: torch.dtype):
    """The built-in face at yaw −40° … 40° in 256² images, and the surface points of its 256² UV texels."""
    model = tfvsdk.morphable.load_builtin()
    batch = 5
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        shape = model.shape(torch.randn(batch, model.n_id, generator=g) * 0.5, torch.zeros(batch, model.n_exp))
        camera = tfvsdk.Camera.from_euler(
            torch.linspace(-40, 40, batch) * math.pi / 180,
            torch.full((batch,), 0.1),
            torch.zeros(batch),
            scale=torch.full((batch,), 1.2),
            translation=torch.full((batch, 2), 128.0),
        )
        vertices = camera.project(shape).to(dtype)
    triangles = model.triangles.long()
    triangle_id = rasterize(screen_to_clip(vertices, (256, 256)), triangles, (256, 256))[..., 3].long() - 1
    uv = model.uv
    uv_pos = torch.cat([2 * uv - 1, torch.zeros_like(uv[:, :1]), torch.ones_like(uv[:, :1])], -1)[None].to(dtype)
    rast_uv = rasterize(uv_pos, triangles, (256, 256)).expand(batch, -1, -1, -1).contiguous()
    points = interpolate(vertices, rast_uv, triangles)
    inside = rast_uv[0, ..., 3] > 0
    return points[:, inside], triangle_id, vertices, triangles


def scenes(dtype: torch.dtype):
    yield from (random_scene(seed, dtype) for seed in range(5))
    yield face_scene(dtype)


@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_the_depth_threshold_is_the_definition_to_the_last_bit(name, dtype):
    """A point exactly at the reference threshold is visible and one a single ulp below it is not: the kernel
    computes that threshold with the same roundings."""
    checked = 0
    for points, triangle_id, vertices, triangles in scenes(dtype):
        for tolerance in TOLERANCES:
            found, threshold = reference_threshold(points, triangle_id, vertices, triangles, tolerance)
            exact = found & threshold.isfinite()
            at, below = points.clone(), points.clone()
            at[..., 2] = torch.where(exact, threshold, points[..., 2])
            one_ulp_below = torch.nextafter(threshold, torch.tensor(-math.inf, dtype=dtype))
            below[..., 2] = torch.where(exact, one_ulp_below, points[..., 2])
            with kernel(name):
                visible_at = visible_points(at, triangle_id, vertices, triangles, tolerance=tolerance)
                visible_below = visible_points(below, triangle_id, vertices, triangles, tolerance=tolerance)
                visible = visible_points(points, triangle_id, vertices, triangles, tolerance=tolerance)
            assert visible_at[exact].all()
            assert not visible_below[exact].any()
            assert not (visible_at | visible_below)[~found].any()
            assert torch.equal(visible, found & (points[..., 2] >= threshold))
            checked += int(exact.sum())
    assert checked > 100_000


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_numba_and_pytorch_kernels_agree(dtype):
    for points, triangle_id, vertices, triangles in scenes(dtype):
        jitter = torch.randn(points.shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
        points = points + jitter * torch.tensor([0.3, 0.3, 1.0], dtype=dtype)
        results = []
        for name in KERNELS:
            with kernel(name):
                results.append(visible_points(points, triangle_id, vertices, triangles, tolerance=0.5))
        assert torch.equal(*results)
        assert 0.05 < results[0].float().mean() < 0.95


@pytest.mark.parametrize("name", KERNELS)
def test_a_flat_list_of_points_from_any_items_gives_the_batched_answer(name):
    points, triangle_id, vertices, triangles = random_scene(7, torch.float32)
    batch, count = points.shape[:2]
    order = torch.randperm(batch * count, generator=torch.Generator().manual_seed(0))
    item = torch.arange(batch).repeat_interleave(count)[order]
    with kernel(name):
        batched = visible_points(points, triangle_id, vertices, triangles)
        flat = visible_points_flat(points.reshape(-1, 3)[order], item, triangle_id, vertices, triangles)
    assert torch.equal(flat, batched.reshape(-1)[order])
    assert visible_points(points[:, :0], triangle_id, vertices, triangles).shape == (batch, 0)
