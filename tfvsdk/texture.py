"""The texture T^i of eq. 3: unwrap the face visible in an image into the model's UV layout.

UV convention (as :class:`~tfvsdk.morphable.MorphableModel` and :meth:`~tfvsdk.Renderer.render`): u right,
v downward, texture row 0 at v = 0; texel (r, c) of a ``size`` × ``size`` texture is centred at
((c + 0.5) / size, (r + 0.5) / size).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from .checks import check_tensor
from .errors import InputError
from .raster import interpolate, rasterize, screen_to_clip, visible_points

logger = logging.getLogger(__name__)


def unwrap_texture(
    image: torch.Tensor,
    screen_vertices: torch.Tensor,
    triangles: torch.Tensor,
    uv: torch.Tensor,
    size: int = 256,
    symmetry: torch.Tensor | None = None,
    *,
    depth_tolerance: float = 0.5,
    min_cosine: float = 0.3,
    margin: int = 0,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unwrap the visible face of ``image`` into a UV texture (T^i of eq. 3).

    1. The mesh is rasterized in UV space; each texel inside a triangle is a surface point whose screen
       position is the barycentric interpolation of ``screen_vertices``.
    2. A texel is *valid* where that point is visible in the image: it lies on the visible surface of the
       image's own rasterization (depth test of :func:`~tfvsdk.raster.visible_points` with
       ``depth_tolerance``), its triangle faces the camera with cos(normal, view axis) ≥ ``min_cosine``
       (grazing triangles give smeared samples), and the four pixels its bilinear sample reads are all
       covered by the mesh (so no background bleeds in at the outline). Valid texels take the image's
       colour there (bilinear).
    3. With ``symmetry``, an invalid texel takes the colour of its mirror point (Σ λ_k V[symmetry[k]] over
       its triangle's corners k) when that point passes the same tests.
    4. Every remaining texel (hidden parts, and gaps between UV islands) is filled by push-pull: the known
       texels are averaged down a pyramid and the coarser levels are upsampled bilinearly into the holes, a
       smooth fill with no black. An image where no texel is visible gives its mean colour everywhere.

    Triangles are counter-clockwise seen from the front (the :class:`~tfvsdk.morphable.MorphableModel`
    convention), i.e. clockwise in screen space (y down) when they face the camera.

    Args:
        image: (B, C, H, W) images in [0, 1].
        screen_vertices: (B, N, 3) the fitted mesh in the images' screen space (pixels; z toward the viewer).
        triangles: (T, 3) integer vertex indices.
        uv: (N, 2) texture coordinates in [0, 1] (v downward).
        size: texture side in texels.
        symmetry: optional (N,) index of each vertex's mirror vertex, −1 where unknown.
        depth_tolerance: depth tolerance of the visibility test, in pixels.
        min_cosine: smallest cosine between a triangle's normal and the view axis for it to count as facing.
        margin: pixels next to the mesh's silhouette that are not sampled (the coverage mask is eroded by this
            many pixels): with a fitted rather than exact mesh, the outline can be off by a pixel or two and
            the image there is background.
        backend: rasterizer backend (see :mod:`tfvsdk.raster.ops`).

    Returns:
        ``(texture, valid)``: (B, C, size, size) texture in [0, 1] and (B, 1, size, size) float mask, 1 where
        the texel was seen directly in the image.
    """
    sizes: dict[str, int] = {}
    check_tensor("image", image, ("B", "C", "H", "W"), sizes)
    check_tensor("screen_vertices", screen_vertices, ("B", "N", 3), sizes)
    check_tensor("uv", uv, (sizes["N"], 2))
    if not isinstance(size, int) or size < 1:
        raise InputError(f"size: expected a positive int, got {size!r}")
    if symmetry is not None:
        check_tensor("symmetry", symmetry, (sizes["N"],), floating=False)
    batch, _, height, width = image.shape
    tri = triangles.to(torch.int32)

    uv_pos = torch.cat([2 * uv.detach() - 1, torch.zeros_like(uv[:, :1]), torch.ones_like(uv[:, :1])], -1)
    rast_uv = rasterize(uv_pos[None].to(screen_vertices.dtype), tri, (size, size), backend=backend)
    rast_uv = rast_uv.expand(batch, -1, -1, -1).contiguous()
    texel_tri = rast_uv[..., 3].long() - 1
    inside = texel_tri >= 0

    rast = rasterize(screen_to_clip(screen_vertices, (height, width)), tri, (height, width), backend=backend)
    screen_tri = rast[..., 3].long() - 1
    covered = screen_tri >= 0
    if margin > 0:
        outside = (~covered)[:, None].to(image.dtype)
        covered = F.max_pool2d(outside, 2 * margin + 1, stride=1, padding=margin)[:, 0] == 0
    facing = _facing(screen_vertices, tri.long(), min_cosine, mirrored=False)
    points = interpolate(screen_vertices, rast_uv, tri, backend=backend)
    visible = (
        inside
        & _lookup(facing, texel_tri)
        & _footprint_covered(covered, points)
        & visible_points(points, screen_tri, screen_vertices, tri, tolerance=depth_tolerance)
    )
    colour = _sample(image, points)
    known = visible

    if symmetry is not None:
        corners = tri.long()[texel_tri.clamp(min=0)]  # (B, S, S, 3)
        mirror = symmetry.long().to(corners.device)[corners]
        has_mirror = inside & (mirror >= 0).all(-1)
        u, v = rast_uv[..., 0:1], rast_uv[..., 1:2]
        weights = torch.cat([u, v, 1 - u - v], -1).to(screen_vertices.dtype)
        b = torch.arange(batch, device=image.device)[:, None, None, None]
        mirror_corners = screen_vertices[b, mirror.clamp(min=0)]  # (B, S, S, 3, 3)
        mirror_points = (weights[..., None] * mirror_corners).sum(-2)
        mirror_ok = (
            has_mirror
            & ~visible
            & _corner_facing(mirror_corners, min_cosine)
            & _footprint_covered(covered, mirror_points)
            & visible_points(mirror_points, screen_tri, screen_vertices, tri, tolerance=depth_tolerance)
        )
        colour = torch.where(mirror_ok[:, None], _sample(image, mirror_points), colour)
        known = visible | mirror_ok

    empty = ~known.flatten(1).any(1)
    if empty.any():
        logger.warning("unwrap_texture: no texel is visible in %d image(s); using their mean colour", int(empty.sum()))
        mean = image.mean((2, 3), keepdim=True).expand_as(colour)
        colour = torch.where(empty[:, None, None, None], mean, colour)
        known = known | empty[:, None, None]
    texture = _push_pull(colour, known[:, None].to(colour.dtype))
    return texture.clamp(0, 1), visible[:, None].to(image.dtype)


def _facing(vertices: torch.Tensor, faces: torch.Tensor, min_cosine: float, mirrored: bool) -> torch.Tensor:
    """(B, T) bool: the triangle faces the camera steeply enough."""
    return _corner_facing(vertices[:, faces], min_cosine, mirrored=mirrored)


def _corner_facing(corners: torch.Tensor, min_cosine: float, mirrored: bool = True) -> torch.Tensor:
    """Facing test on (..., 3, 3) corner positions; ``mirrored`` corners wind the other way round."""
    normal = torch.linalg.cross(corners[..., 1, :] - corners[..., 0, :], corners[..., 2, :] - corners[..., 0, :])
    toward_viewer = normal[..., 2] if mirrored else -normal[..., 2]
    return toward_viewer >= min_cosine * normal.norm(dim=-1).clamp(min=1e-12)


def _lookup(per_triangle: torch.Tensor, triangle_id: torch.Tensor) -> torch.Tensor:
    """Gather (B, T) values at (B, ...) triangle ids (−1 gives False)."""
    flat = triangle_id.reshape(triangle_id.shape[0], -1)
    values = torch.gather(per_triangle, 1, flat.clamp(min=0)) & (flat >= 0)
    return values.view_as(triangle_id)


def _footprint_covered(covered: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(B, ...) bool: the four pixel centres a bilinear sample at ``points[..., :2]`` reads are all covered."""
    batch, height, width = covered.shape
    x = points[..., 0].reshape(batch, -1)
    y = points[..., 1].reshape(batch, -1)
    b = torch.arange(batch, device=covered.device)[:, None]
    ix0, iy0 = torch.floor(x - 0.5).long(), torch.floor(y - 0.5).long()
    ok = (ix0 >= 0) & (iy0 >= 0) & (ix0 + 1 < width) & (iy0 + 1 < height)
    ix0, iy0 = ix0.clamp(0, width - 2), iy0.clamp(0, height - 2)
    for dy in (0, 1):
        for dx in (0, 1):
            ok &= covered[b, iy0 + dy, ix0 + dx]
    return ok.view(points.shape[:-1])


def _sample(image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear samples (B, C, S, S) of ``image`` at screen positions ``points[..., :2]`` (pixel centres at +0.5)."""
    height, width = image.shape[-2:]
    grid = torch.stack([2 * points[..., 0] / width - 1, 2 * points[..., 1] / height - 1], -1)
    return F.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode="border", align_corners=False)


def _push_pull(values: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Fill the texels where ``known`` (B, 1, S, S) is 0 from a pyramid of known-weighted averages."""
    if bool(known.all()):
        return values
    if min(values.shape[-2:]) == 1:
        mean = (values * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp(min=1e-12)
        return torch.where(known > 0, values, mean)
    weight = F.avg_pool2d(known, 2, ceil_mode=True)
    coarse = F.avg_pool2d(values * known, 2, ceil_mode=True) / weight.clamp(min=1e-12)
    filled = _push_pull(coarse, (weight > 0).to(known.dtype))
    up = F.interpolate(filled, size=values.shape[-2:], mode="bilinear", align_corners=False)
    return torch.where(known > 0, values, up)
