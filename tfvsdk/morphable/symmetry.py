"""Mirror vertices of a face mesh: each vertex's partner across the face's plane of symmetry.

Texture completion fills a texel the photo did not show from its mirror point, so it needs every vertex's
mirror. Model files give them partly or not at all: eos' SFM lists them for the 845 vertices of its
coarsest level only (the 3448-vertex mesh subdivides it), and 3DDFA's BFM lists none. A face's mean shape
is symmetric to well under an edge length (the SFM: 0.12 edge lengths at the median, 0.61 at most, and the
nearest vertex to a listed vertex's mirror image is its listed mirror for 97.8 % of them), so a missing
mirror is the vertex nearest to the vertex's mirror image, when it is near enough.
"""

from __future__ import annotations

import torch

TOLERANCE = 0.75
"""Farthest a vertex may lie from a mirror image and still be its mirror, in median edge lengths."""


def complete_symmetry(
    mean: torch.Tensor, triangles: torch.Tensor, known: torch.Tensor | None = None, tolerance: float = TOLERANCE
) -> torch.Tensor:
    """Every vertex's mirror vertex: ``known`` where it gives one, else the vertex nearest to the mirror image.

    The plane of symmetry is x = mean of the vertices' x (the model's axes: +x the subject's left); the
    mirror image of (x, y, z) is (2c − x, y, z).

    Args:
        mean: (N, 3) mean shape.
        triangles: (T, 3) vertex indices (their median edge length is the unit of ``tolerance``).
        known: (N,) int mirror indices, −1 where unknown; None: none known.
        tolerance: largest distance from the mirror image to the chosen vertex, in median edge lengths.

    Returns:
        (N,) int64 mirror indices, −1 where no vertex lies within ``tolerance`` of the mirror image
        (a vertex on the plane is its own mirror).
    """
    points = mean.detach().to(torch.float64)
    result = torch.full((len(points),), -1, dtype=torch.int64) if known is None else known.to(torch.int64).clone()
    missing = (result < 0).nonzero()[:, 0]
    if len(missing) == 0:
        return result
    corners = points[triangles.long()]
    edge = (corners - corners.roll(1, dims=1)).norm(dim=-1).median()
    if not edge > 0:  # a degenerate mesh: no scale to judge a mirror by
        return result
    images = points[missing].clone()
    images[:, 0] = 2 * points[:, 0].mean() - images[:, 0]
    nearest, distance = _nearest(points, images, float(tolerance * edge))
    result[missing] = torch.where(distance <= tolerance * edge, nearest, torch.full_like(nearest, -1))
    return result


def _nearest(points: torch.Tensor, queries: torch.Tensor, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """For (Q, 3) ``queries``, the index and distance of the nearest of (N, 3) ``points`` within ``radius``
    (index −1 and distance inf where none is): a grid of cells ``radius`` wide, each query searching its
    own and the 26 neighbouring cells."""
    low = torch.minimum(points.amin(0), queries.amin(0))
    cells = ((points - low) / radius).floor().to(torch.int64)
    extent = int(torch.maximum(cells.amax(), ((queries - low) / radius).floor().amax().to(torch.int64))) + 3
    key = lambda c: ((c[..., 0] + 1) * extent + c[..., 1] + 1) * extent + c[..., 2] + 1  # noqa: E731
    sorted_keys, order = key(cells).sort()
    offsets = torch.stack(torch.meshgrid(*[torch.arange(-1, 2)] * 3, indexing="ij"), -1).view(-1, 3)
    query_cells = ((queries - low) / radius).floor().to(torch.int64)
    wanted = key(query_cells[:, None] + offsets)  # (Q, 27)
    start = torch.searchsorted(sorted_keys, wanted)
    count = torch.searchsorted(sorted_keys, wanted, right=True) - start
    slots = torch.arange(max(1, int(count.max())))
    nearest, best = [], []
    for rows in torch.arange(len(queries)).split(max(1, 2**22 // (27 * len(slots)))):  # ≤ 4M candidates at once
        candidate = (start[rows, :, None] + slots).clamp(max=len(points) - 1)  # (q, 27, C)
        index = order[candidate].flatten(1)
        distance = (points[index] - queries[rows, None]).norm(dim=-1)
        distance = torch.where((slots < count[rows, :, None]).flatten(1), distance, torch.full_like(distance, float("inf")))
        closest, at = distance.min(1)
        nearest.append(torch.where(closest.isfinite(), index.gather(1, at[:, None])[:, 0], torch.full_like(at, -1)))
        best.append(closest)
    return torch.cat(nearest), torch.cat(best)
