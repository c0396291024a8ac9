"""rasterize: nvdiffrast's conventions, checked against an independent brute-force float64 reference."""

from __future__ import annotations

import math

import hypothesis.strategies as st
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings

from tfvsdk.errors import InputError
from tfvsdk.raster import coverage, interpolate, rasterize
from tfvsdk.raster.ops import KERNEL_ENV

from raster_kernels import KERNELS, kernel

EPS = 1e-9


def reference(pos: np.ndarray, tri: np.ndarray, height: int, width: int):
    """Per pixel, per triangle, float64: solve for screen-space barycentrics, keep the smallest z/w.

    Returns (ids, u, v, z/w, ambiguous) where ``ambiguous`` marks pixels whose outcome depends on a tie: a
    centre within EPS pixels of a triangle's edge line inside its bounding box (this includes the
    whole of near-degenerate slivers), within EPS of a clip plane, or two candidates within EPS in depth.
    """
    ys, xs = np.meshgrid(np.arange(height) + 0.5, np.arange(width) + 0.5, indexing="ij")
    centres = np.stack([xs, ys], -1)
    ids = np.zeros((height, width), np.int64)
    best = np.full((height, width), np.inf)
    second = np.full((height, width), np.inf)
    uvz = np.zeros((height, width, 3))
    ambiguous = np.zeros((height, width), bool)
    for t, corner in enumerate(tri):
        p = pos[corner]
        w = p[:, 3]
        if (w <= 0).any():
            continue
        screen = np.stack([(p[:, 0] / w + 1) * width / 2, (p[:, 1] / w + 1) * height / 2], -1)
        in_box = ((centres > screen.min(0) - EPS) & (centres < screen.max(0) + EPS)).all(-1)
        for a, b in ((0, 1), (1, 2), (2, 0)):
            edge, rel = screen[b] - screen[a], centres - screen[a]
            length = np.linalg.norm(edge)
            dist = np.abs(edge[0] * rel[..., 1] - edge[1] * rel[..., 0]) / length if length else 0.0
            ambiguous |= in_box & (dist < EPS)
        m = np.stack([screen[0] - screen[2], screen[1] - screen[2]], -1)
        if np.linalg.det(m) == 0:
            continue
        lam01 = np.linalg.solve(m, (centres - screen[2]).reshape(-1, 2).T).T.reshape(height, width, 2)
        lam = np.concatenate([lam01, 1 - lam01.sum(-1, keepdims=True)], -1)
        zw = lam @ (p[:, 2] / w)
        inside = (lam >= 0).all(-1)
        ambiguous |= inside & (np.abs(np.abs(zw) - 1) < EPS)
        inside &= np.abs(zw) <= 1
        persp = lam / w
        persp /= np.where(inside, persp.sum(-1), 1.0)[..., None]
        nearer = inside & (zw < best)
        second = np.where(nearer, best, np.where(inside, np.minimum(second, zw), second))
        best = np.where(nearer, zw, best)
        ids = np.where(nearer, t + 1, ids)
        uvz = np.where(nearer[..., None], np.concatenate([persp[..., :2], zw[..., None]], -1), uvz)
    gap = np.where(np.isfinite(second), second - np.where(np.isfinite(best), best, 0.0), np.inf)
    ambiguous |= gap < EPS
    return ids, uvz[..., 0], uvz[..., 1], uvz[..., 2], ambiguous


@st.composite
def clip_soups(draw: st.DrawFn, max_triangles: int = 10):
    """Triangle soups in clip space: perspective ones (random w) and ones snapped to the half-pixel grid
    (vertices on pixel centres and edges through them: the tie cases)."""
    height, width = draw(st.integers(1, 20)), draw(st.integers(1, 20))
    n_tri = draw(st.integers(1, max_triangles))
    snapped = draw(st.booleans())
    n = 3 * n_tri
    if snapped:
        kx = draw(st.lists(st.integers(-2, 2 * width + 2), min_size=n, max_size=n))
        ky = draw(st.lists(st.integers(-2, 2 * height + 2), min_size=n, max_size=n))
        x, y, w = np.array(kx) / (2 * width) * 2 - 1, np.array(ky) / (2 * height) * 2 - 1, np.ones(n)
    else:
        coords = st.floats(-1.3, 1.3, allow_nan=False)
        x = np.array(draw(st.lists(coords, min_size=n, max_size=n)))
        y = np.array(draw(st.lists(coords, min_size=n, max_size=n)))
        w = np.array(draw(st.lists(st.floats(0.25, 3.0), min_size=n, max_size=n)))
    z = np.array(draw(st.lists(st.floats(-1.2, 1.2, allow_nan=False), min_size=n, max_size=n)))
    pos = np.stack([x * w, y * w, z * w, w], -1)[None]
    tri = np.array(draw(st.permutations(range(n)))).reshape(n_tri, 3)
    return pos, tri, (height, width)


@pytest.mark.parametrize("name", KERNELS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(soup=clip_soups())
def test_rasterize_matches_brute_force_reference(name, soup):
    pos, tri, (height, width) = soup
    with kernel(name):
        rast = rasterize(torch.from_numpy(pos), torch.from_numpy(tri), (height, width))[0].numpy()
    ids, u, v, zw, ambiguous = reference(pos[0], tri, height, width)
    sure = ~ambiguous
    assert (rast[..., 3][sure] == ids[sure]).all(), "triangle ids differ from the reference"
    hit = sure & (ids > 0)
    assert np.abs(rast[..., 0][hit] - u[hit]).max(initial=0) < 1e-5
    assert np.abs(rast[..., 1][hit] - v[hit]).max(initial=0) < 1e-5
    assert np.abs(rast[..., 2][hit] - zw[hit]).max(initial=0) < 1e-6
    assert (rast[ids == 0][sure[ids == 0]] == 0).all(), "empty pixels must be 0 in every channel"


@settings(max_examples=60, deadline=None)
@given(soup=clip_soups())
def test_numba_and_torch_kernels_are_bit_identical(soup):
    pos, tri, size = soup
    outputs = []
    for name in KERNELS:
        with kernel(name):
            outputs.append(rasterize(torch.from_numpy(pos), torch.from_numpy(tri), size))
            outputs.append(coverage(torch.from_numpy(pos), torch.from_numpy(tri), size))
    assert torch.equal(outputs[0], outputs[2]) and torch.equal(outputs[1], outputs[3])


@pytest.mark.parametrize("size", [(256, 256), (181, 203)])
def test_two_row_bands_on_two_threads_give_the_one_thread_result(size, monkeypatch):
    """Large frames may be split into two row bands when torch allows two threads (numba kernel)."""
    numba_kernel = pytest.importorskip("tfvsdk.raster._numba_kernel")
    monkeypatch.setattr(numba_kernel, "BAND_SPLIT", "always")
    verts, tri = icosphere(4)
    pos = torch.from_numpy(np.concatenate([verts * 0.9, np.ones((len(verts), 1))], 1))[None]
    tri = torch.from_numpy(tri).int()
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with kernel("numba"):
                results.append((rasterize(pos, tri, size), coverage(pos, tri, size)))
    finally:
        torch.set_num_threads(before)
    with kernel("torch"):
        reference = rasterize(pos, tri, size)
    (one, one_count), (two, two_count) = results
    assert torch.equal(one, two) and torch.equal(one_count, two_count) and torch.equal(one, reference)
    half = size[0] // 2
    assert (one[0, :half, :, 3] > 0).any() and (one[0, half:, :, 3] > 0).any(), "the sphere spans both bands"


def icosphere(subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    """A closed unit sphere: (N, 3) vertices and (T, 3) triangles wound consistently."""
    g = (1 + 5**0.5) / 2
    v = [[-1, g, 0], [1, g, 0], [-1, -g, 0], [1, -g, 0], [0, -1, g], [0, 1, g], [0, -1, -g], [0, 1, -g],
         [g, 0, -1], [g, 0, 1], [-g, 0, -1], [-g, 0, 1]]
    f = [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4], [11, 10, 2],
         [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9], [4, 9, 5], [2, 4, 11],
         [6, 2, 10], [8, 6, 7], [9, 8, 1]]
    verts = [np.array(p, float) / np.linalg.norm(p) for p in v]
    faces = f
    for _ in range(subdivisions):
        cache: dict[tuple[int, int], int] = {}

        def mid(a: int, b: int) -> int:
            key = (min(a, b), max(a, b))
            if key not in cache:
                m = verts[a] + verts[b]
                verts.append(m / np.linalg.norm(m))
                cache[key] = len(verts) - 1
            return cache[key]

        faces = [
            q
            for a, b, c in faces
            for q in ([a, mid(a, b), mid(c, a)], [b, mid(b, c), mid(a, b)], [c, mid(c, a), mid(b, c)],
                      [mid(a, b), mid(b, c), mid(c, a)])
        ]
    return np.array(verts), np.array(faces)


@pytest.mark.parametrize("name", KERNELS)
@settings(max_examples=25, deadline=None)
@given(
    angles=st.tuples(*[st.floats(-math.pi, math.pi)] * 3),
    radius=st.floats(0.2, 0.9),
    centre=st.tuples(st.floats(-0.3, 0.3), st.floats(-0.3, 0.3)),
    snap=st.booleans(),
)
def test_closed_mesh_has_no_holes_and_no_double_coverage(name, angles, radius, centre, snap):
    verts, faces = icosphere(2)
    a, b, c = angles
    rot = torch.tensor(
        [[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]], dtype=torch.float64
    ) @ torch.tensor([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]], dtype=torch.float64)
    p = torch.from_numpy(verts) @ rot.T * radius
    p[:, :2] += torch.tensor(centre, dtype=torch.float64)
    size = 48
    if snap:  # put every vertex on a pixel centre: many centres lie exactly on shared edges
        p[:, :2] = (torch.round((p[:, :2] + 1) * size / 2 - 0.5) + 0.5) * 2 / size - 1
    pos = torch.cat([p[:, :2], 0.5 * p[:, 2:], torch.ones(len(p), 1, dtype=torch.float64)], 1)[None]
    tri = torch.from_numpy(faces)
    with kernel(name):
        count = coverage(pos, tri, (size, size))[0]
        rast = rasterize(pos, tri, (size, size))[0]
    assert torch.equal(count > 0, rast[..., 3] > 0)
    if snap:  # snapping may fold triangles over; a closed surface still covers every centre an even number of times
        assert (count % 2 == 0).all(), "a hole or a double coverage on a shared edge"
    else:  # a convex closed surface: 0 or 2 layers, and no empty pixel inside its (convex) outline
        assert set(count.unique().tolist()) <= {0, 2}, "a hole or a double coverage on a shared edge"
        inside_outline = count == 2
        rows = inside_outline.any(1).nonzero().flatten()
        for r in rows.tolist():
            cols = inside_outline[r].nonzero().flatten()
            assert inside_outline[r, cols.min() : cols.max() + 1].all(), f"hole in row {r}"


@pytest.mark.parametrize("name", KERNELS)
def test_grid_with_vertices_on_pixel_centres_is_covered_exactly_once(name):
    """A flat grid whose edges pass exactly through pixel centres: the tie rule gives each centre to one
    triangle."""
    n, size = 9, 32
    k = torch.arange(n, dtype=torch.float64) * 3 + 2.5  # pixel centres 2.5, 5.5, …, 26.5
    gy, gx = torch.meshgrid(k, k, indexing="ij")
    xy = torch.stack([gx, gy], -1).view(-1, 2) * 2 / size - 1
    pos = torch.cat([xy, torch.zeros(n * n, 1, dtype=torch.float64), torch.ones(n * n, 1, dtype=torch.float64)], 1)
    idx = torch.arange(n * n).view(n, n)
    a, b, c, d = idx[:-1, :-1].flatten(), idx[:-1, 1:].flatten(), idx[1:, :-1].flatten(), idx[1:, 1:].flatten()
    tri = torch.cat([torch.stack([a, b, d], 1), torch.stack([a, d, c], 1)])
    with kernel(name):
        count = coverage(pos[None], tri, (size, size))[0]
    interior = count[3:26, 3:26]  # centres strictly inside the grid's outline
    assert (interior == 1).all()
    assert count.max() == 1


@pytest.mark.parametrize("name", KERNELS)
def test_row_zero_is_clip_y_minus_one_and_pixels_are_sampled_at_centres(name):
    height, width = 6, 8
    # a rectangle from clip (-1, -1) to just past the centres of column 3 and row 1
    x_edge = (2 * 3 + 1) / width - 1 + 1e-9
    y_top = (2 * 1 + 1) / height - 1 + 1e-9
    pos = torch.tensor([[[-1.0, -1.0, 0, 1], [x_edge, -1.0, 0, 1], [x_edge, y_top, 0, 1], [-1.0, y_top, 0, 1]]],
                       dtype=torch.float64)
    tri = torch.tensor([[0, 1, 2], [0, 2, 3]])
    with kernel(name):
        ids = rasterize(pos, tri, (height, width))[0, ..., 3]
    expected = torch.zeros(height, width, dtype=torch.bool)
    expected[:2, :4] = True
    assert torch.equal(ids > 0, expected)


@pytest.mark.parametrize("name", KERNELS)
def test_nearest_surface_wins_and_nothing_is_culled(name):
    quad = [[-0.9, -0.9], [0.9, -0.9], [0.9, 0.9], [-0.9, 0.9]]
    far = [[x, y, 0.5, 1.0] for x, y in quad]
    near = [[x, y, -0.5, 1.0] for x, y in quad]
    pos = torch.tensor([far + near], dtype=torch.float64)
    front = torch.tensor([[0, 1, 2], [0, 2, 3]])
    for tri in (torch.cat([front, front + 4]), torch.cat([front + 4, front]), torch.cat([front, front.flip(1) + 4])):
        with kernel(name):
            rast = rasterize(pos, tri, (10, 10))[0]
        near_ids = {i + 1 for i, t in enumerate(tri.tolist()) if min(t) >= 4}
        covered = rast[..., 3] > 0
        assert set(rast[..., 3][covered].long().tolist()) <= near_ids
        assert torch.allclose(rast[..., 2][covered], torch.tensor(-0.5, dtype=torch.float64))


@pytest.mark.parametrize("name", KERNELS)
def test_clipping_and_degenerate_triangles(name):
    pos = torch.tensor(
        [[[-1, -1, 1.5, 1], [1, -1, 1.5, 1], [0, 1, 1.5, 1],  # beyond the far plane
          [-1, -1, 0, 1], [1, -1, 0, 1], [0, -1, 0, 1],  # zero area
          [-1, -1, -0.5, 1], [1, -1, -0.5, 1], [1, 1, -0.5, 1]]],
        dtype=torch.float64,
    )
    pos[0, 8, 3] = -1.0  # a vertex with w <= 0: the triangle is skipped
    tri = torch.arange(9).view(3, 3)
    with kernel(name):
        rast = rasterize(pos, tri, (8, 8))
    assert (rast == 0).all()


def test_gradients_reach_positions_through_barycentrics():
    """gradcheck of pos → rasterize → interpolate, on a mesh whose pixel centres stay ≥ 1e-3 px away from
    every edge (so the discrete coverage cannot change under the finite-difference steps)."""
    pos = torch.tensor(
        [[[-0.83, -0.71, 0.1, 1.0], [0.77, -0.86, 0.2, 1.1], [0.69, 0.81, -0.3, 0.9], [-0.74, 0.62, 0.0, 1.2]]],
        dtype=torch.float64,
        requires_grad=True,
    )
    tri = torch.tensor([[0, 1, 2], [0, 2, 3]])
    attr = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [3.0, 1.0], [-1.0, 0.5]]], dtype=torch.float64)
    size = (7, 9)
    ids, _, _, _, ambiguous = reference(pos.detach()[0].numpy(), tri.numpy(), *size)
    assert not ambiguous.any() and (ids > 0).sum() > 20

    def render(p: torch.Tensor) -> torch.Tensor:
        return interpolate(attr, rasterize(p, tri, size), tri)

    assert torch.autograd.gradcheck(render, (pos,), eps=1e-7, atol=1e-6)


def test_bad_inputs_raise_input_error():
    pos = torch.zeros(1, 3, 4)
    tri = torch.tensor([[0, 1, 2]])
    with pytest.raises(InputError, match="pos"):
        rasterize(torch.zeros(3, 4), tri, (4, 4))
    with pytest.raises(InputError, match="tri"):
        rasterize(pos, torch.tensor([[0, 1, 3]]), (4, 4))
    with pytest.raises(InputError, match="tri"):
        rasterize(pos, tri.float(), (4, 4))
    with pytest.raises(InputError, match="resolution"):
        rasterize(pos, tri, (4, 0))
    with pytest.raises(InputError, match="backend"):
        rasterize(pos, tri, (4, 4), backend="opengl")
    with pytest.raises(InputError, match="NaN"):
        rasterize(torch.full((1, 3, 4), math.nan), tri, (4, 4))


def test_without_numba_the_pure_pytorch_kernel_runs_and_says_so(monkeypatch, caplog):
    import sys

    import tfvsdk.raster
    from tfvsdk.raster import ops

    pos = torch.tensor([[[-0.8, -0.8, 0, 1], [0.8, -0.8, 0, 1], [0, 0.8, 0, 1]]], dtype=torch.float64)
    tri = torch.tensor([[0, 1, 2]])
    expected = rasterize(pos, tri, (8, 8))
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    monkeypatch.delitem(sys.modules, "tfvsdk.raster._numba_kernel", raising=False)
    monkeypatch.delattr(tfvsdk.raster, "_numba_kernel", raising=False)
    monkeypatch.delenv(KERNEL_ENV, raising=False)
    ops._numba_kernel.cache_clear()
    ops._announced.clear()
    try:
        with caplog.at_level("INFO", logger="tfvsdk.raster.ops"):
            assert torch.equal(rasterize(pos, tri, (8, 8)), expected)
        assert "pure-PyTorch" in caplog.text and "numba is not available" in caplog.text
    finally:
        ops._numba_kernel.cache_clear()
        ops._announced.clear()


def test_the_band_split_is_used_only_while_it_is_measured_faster():
    numba_kernel = pytest.importorskip("tfvsdk.raster._numba_kernel")
    chooser = numba_kernel._SplitChooser()
    tried = []
    for _ in range(2 * chooser.PROBES):
        split = chooser.choose()
        tried.append(split)
        chooser.record(split, 0.003 if split else 0.002)  # a busy second core: two bands are slower
    assert sorted(tried) == [False] * chooser.PROBES + [True] * chooser.PROBES
    assert [chooser.choose() for _ in range(10)] == [False] * 10
    while chooser.calls % chooser.REPROBE != chooser.REPROBE - 1:
        chooser.choose()
    for _ in range(2 * chooser.PROBES):  # timings are learnt again: now the second core is idle
        split = chooser.choose()
        chooser.record(split, 0.001 if split else 0.002)
    assert chooser.choose() is True
    assert numba_kernel._split_rows(1, 10**5, 256, 256) is False
    assert numba_kernel._split_rows(2, 10, 8, 8) is False


def sliver_mesh() -> tuple[torch.Tensor, torch.Tensor]:
    """The closed fan of issue 14: triangle 0 is a sliver whose float64 area rounds to 0 while pixel centres
    (106.5, 96.5) and (116.5, 107.5) lie exactly on its long edge 0–1 (positions in pixels of a 256² frame)."""
    below = np.nextafter
    pixels = torch.tensor(
        [[96.5, 85.5], [126.5, 118.5], [below(106.5, 0), below(96.5, 0)], [128.0, 87.0], [95.0, 117.0]], dtype=torch.float64
    )
    clip = torch.cat([pixels / 128.0 - 1.0, torch.zeros(5, 1, dtype=torch.float64), torch.ones(5, 1, dtype=torch.float64)], 1)
    return clip[None], torch.tensor([[0, 1, 2], [1, 0, 3], [0, 2, 4], [2, 1, 4]])


@pytest.mark.parametrize("name", KERNELS)
def test_a_sliver_whose_area_rounds_to_zero_leaves_no_hole(name):
    pos, tri = sliver_mesh()
    x = pos[0, :, 0].add(1).mul(128)
    y = pos[0, :, 1].add(1).mul(128)
    assert float((x[1] - x[0]) * (y[2] - y[0]) - (y[1] - y[0]) * (x[2] - x[0])) == 0.0  # the float64 area
    with kernel(name):
        count = coverage(pos, tri, (256, 256))[0]
        rast = rasterize(pos, tri, (256, 256))[0]
    assert count[96, 106] == 1 and count[107, 116] == 1
    assert rast[96, 106, 3] == 1 and rast[107, 116, 3] == 1  # the sliver, whose top-left edge holds them
    inside = count > 0
    assert (count[inside] == 1).all()
    u, v = rast[96, 106, 0], rast[96, 106, 1]
    assert 0 <= u <= 1 and 0 <= v <= 1 and abs(u + v - 1) < 1e-9  # on edge 0–1: no weight on vertex 2


def test_exact_orientation_agrees_with_rational_arithmetic():
    numba_kernel = pytest.importorskip("tfvsdk.raster._numba_kernel")
    from tfvsdk.raster._torch_kernel import exact_orientation

    rng = np.random.default_rng(0)
    for _ in range(300):
        a, b = rng.uniform(0, 256, 2), rng.uniform(0, 256, 2)
        t = rng.integers(0, 5) / 4
        c = a + t * (b - a)
        c = c + rng.integers(-2, 3, 2) * np.spacing(c)  # on the line a–b, or a few ulps off it
        args = (*a, *b, *c)
        assert numba_kernel._exact_orientation(*args) == exact_orientation(*args)


@pytest.mark.parametrize("name", KERNELS)
def test_bfloat16_positions_rasterize_as_float32(name):
    pos, tri = sliver_mesh()
    with kernel(name):
        rast = rasterize(pos.to(torch.bfloat16), tri, (64, 64))
        reference_rast = rasterize(pos.to(torch.bfloat16).float(), tri, (64, 64))
    assert rast.dtype == torch.float32
    assert torch.equal(rast, reference_rast)
