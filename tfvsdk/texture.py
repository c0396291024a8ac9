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
from .raster import rasterize, screen_to_clip
from .raster.ops import gather_rows, weighted_sum
from .raster.screen import visible_points_flat

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
    batch = image.shape[0]
    tri = triangles.to(torch.int32)
    faces = tri.long()
    texel, texel_tri, weights = _texels(uv, tri, size, screen_vertices.dtype, backend)
    texel_corners = faces[texel_tri]  # (K, 3)
    screen = _ScreenTest(image.shape[-2:], screen_vertices, tri, margin, depth_tolerance, backend)
    known = torch.zeros(batch, len(texel), dtype=torch.bool, device=image.device)
    at = screen_vertices.new_zeros(batch, len(texel), 3)

    # The costly tests run on the (image b, texel k) pairs that can still pass only.
    facing = _facing(screen_vertices, faces, min_cosine, mirrored=False)
    b, k = facing[:, texel_tri].nonzero(as_tuple=True)
    corners = _gather_vertices(screen_vertices, b, texel_corners.index_select(0, k))
    points = weighted_sum(weights.index_select(0, k), corners)
    _record(known, at, *_select(screen.passes(b, points), b, k, points))
    visible = known.clone()

    if symmetry is not None:
        mirror = symmetry.long().to(faces.device)[texel_corners]
        b, k = (~visible & (mirror >= 0).all(-1)).nonzero(as_tuple=True)
        corners = _gather_vertices(screen_vertices, b, mirror.index_select(0, k))
        b, k, corners = _select(_corner_facing(corners, min_cosine), b, k, corners)
        points = weighted_sum(weights.index_select(0, k), corners)
        _record(known, at, *_select(screen.passes(b, points), b, k, points))

    colour = _sample(image, _to_grid(at, texel, size))
    known = _to_grid(known, texel, size)
    visible = _to_grid(visible, texel, size)
    empty = ~known.flatten(1).any(1)
    if empty.any():
        logger.warning("unwrap_texture: no texel is visible in %d image(s); using their mean colour", int(empty.sum()))
        mean = image.mean((2, 3), keepdim=True).expand_as(colour)
        colour = torch.where(empty[:, None, None, None], mean, colour)
        known = known | empty[:, None, None]
    texture = push_pull(colour, known[:, None].to(colour.dtype))
    return texture.clamp(0, 1), visible[:, None].to(image.dtype)


def _texels(
    uv: torch.Tensor, tri: torch.Tensor, size: int, dtype: torch.dtype, backend: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The texels inside the mesh's UV layout: their flat indices (K,) into the ``size`` × ``size`` texture,
    their triangles (K,) and the barycentric weights (K, 3) of that triangle's corners at the texel centre."""
    uv_pos = torch.cat([2 * uv.detach() - 1, torch.zeros_like(uv[:, :1]), torch.ones_like(uv[:, :1])], -1)
    rast = rasterize(uv_pos[None].to(dtype), tri, (size, size), backend=backend).reshape(-1, 4)
    texel = (rast[:, 3] > 0).nonzero()[:, 0]
    u, v = rast[texel, 0:1], rast[texel, 1:2]
    return texel, rast[texel, 3].long() - 1, torch.cat([u, v, 1 - u - v], -1)


def _gather_vertices(vertices: torch.Tensor, b: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(M, 3, 3) rows ``vertices[b[m], index[m, k]]`` of (B, N, 3) ``vertices`` for (M,) ``b`` and (M, 3) ``index``."""
    return gather_rows(vertices.reshape(-1, 3), b[:, None] * vertices.shape[1] + index)


def _record(known: torch.Tensor, at: torch.Tensor, b: torch.Tensor, k: torch.Tensor, points: torch.Tensor) -> None:
    """Mark texels ``k`` (M,) of items ``b`` (M,) as known in (B, K) ``known``, to be sampled at (M, 3)
    ``points``: written into (B, K, 3) ``at``."""
    slot = b * known.shape[1] + k
    known.view(-1)[slot] = True
    at.view(-1, 3).index_copy_(0, slot, points)


def _select(keep: torch.Tensor, *values: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The rows of each of ``values`` where the (M,) bool ``keep`` is set."""
    index = keep.nonzero()[:, 0]
    return tuple(value.index_select(0, index) for value in values)


def _to_grid(values: torch.Tensor, texel: torch.Tensor, size: int) -> torch.Tensor:
    """(B, size, size, ...) texture holding (B, K, ...) ``values`` at the flat ``texel`` indices (K,), 0 elsewhere."""
    grid = values.new_zeros(values.shape[0], size * size, *values.shape[2:]).index_copy(1, texel, values)
    return grid.view(values.shape[0], size, size, *values.shape[2:])


class _ScreenTest:
    """Whether screen points of the mesh are seen in the images: a bilinear sample there reads covered pixels
    only, and the point lies on the visible surface (:func:`~tfvsdk.raster.visible_points`)."""

    def __init__(
        self,
        image_size: tuple[int, int],
        vertices: torch.Tensor,
        tri: torch.Tensor,
        margin: int,
        tolerance: float,
        backend: str,
    ) -> None:
        rast = rasterize(screen_to_clip(vertices.detach(), image_size), tri, image_size, backend=backend)
        self.triangle_id = rast[..., 3].long() - 1
        self.covered = _erode(self.triangle_id >= 0, margin)
        self.vertices, self.tri, self.tolerance = vertices, tri, tolerance

    def passes(self, b: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """(M,) bool for (M, 3) ``points`` in images ``b`` (M,)."""
        ok = _footprint_covered(self.covered, b, points)
        index = ok.nonzero()[:, 0]
        ok[index] = visible_points_flat(
            points.index_select(0, index),
            b.index_select(0, index),
            self.triangle_id,
            self.vertices,
            self.tri,
            tolerance=self.tolerance,
        )
        return ok


def _erode(mask: torch.Tensor, margin: int) -> torch.Tensor:
    """(B, H, W) bool: the pixels of ``mask`` whose (2 ``margin`` + 1)² neighbourhood within the image is all
    in ``mask``."""
    for dim in (1, 2):
        n = mask.shape[dim]
        eroded = mask.clone()
        for shift in range(1, min(margin, n - 1) + 1):
            eroded.narrow(dim, shift, n - shift).logical_and_(mask.narrow(dim, 0, n - shift))
            eroded.narrow(dim, 0, n - shift).logical_and_(mask.narrow(dim, shift, n - shift))
        mask = eroded
    return mask


def _facing(vertices: torch.Tensor, faces: torch.Tensor, min_cosine: float, mirrored: bool) -> torch.Tensor:
    """(B, T) bool: the triangle faces the camera steeply enough."""
    return _corner_facing(vertices[:, faces], min_cosine, mirrored=mirrored)


def _corner_facing(corners: torch.Tensor, min_cosine: float, mirrored: bool = True) -> torch.Tensor:
    """Facing test on (..., 3, 3) corner positions; ``mirrored`` corners wind the other way round."""
    normal = torch.linalg.cross(corners[..., 1, :] - corners[..., 0, :], corners[..., 2, :] - corners[..., 0, :])
    toward_viewer = normal[..., 2] if mirrored else -normal[..., 2]
    return toward_viewer >= min_cosine * normal.norm(dim=-1).clamp(min=1e-12)


def _footprint_covered(covered: torch.Tensor, b: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(M,) bool: the four pixel centres a bilinear sample at ``points[:, :2]`` (M, 3) of image ``b`` (M,)
    reads are all covered ((B, H, W) ``covered``)."""
    _, height, width = covered.shape
    if height < 2 or width < 2:
        return torch.zeros_like(b, dtype=torch.bool)
    ix0, iy0 = torch.floor(points[:, 0] - 0.5).long(), torch.floor(points[:, 1] - 0.5).long()
    ok = (ix0 >= 0) & (iy0 >= 0) & (ix0 + 1 < width) & (iy0 + 1 < height)
    corner = (b * height + iy0.clamp(0, height - 2)) * width + ix0.clamp(0, width - 2)
    flat = covered.view(-1)
    for offset in (0, 1, width, width + 1):
        ok &= flat.index_select(0, corner + offset)
    return ok


def _sample(image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear samples (B, C, S, S) of ``image`` at screen positions ``points[..., :2]`` (pixel centres at +0.5)."""
    height, width = image.shape[-2:]
    grid = torch.stack([2 * points[..., 0] / width - 1, 2 * points[..., 1] / height - 1], -1)
    return F.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode="border", align_corners=False)


def push_pull(values: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """A smooth fill: (B, C, H, W) ``values`` where ``known`` (B, 1, H, W) is > 0, elsewhere the bilinear
    upsampling of a pyramid of ``known``-weighted averages (each level half the size of the one above)."""
    if bool(known.all()):
        return values
    if min(values.shape[-2:]) == 1:
        mean = (values * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp(min=1e-12)
        return torch.where(known > 0, values, mean)
    weight = F.avg_pool2d(known, 2, ceil_mode=True)
    coarse = F.avg_pool2d(values * known, 2, ceil_mode=True) / weight.clamp(min=1e-12)
    filled = push_pull(coarse, (weight > 0).to(known.dtype))
    up = F.interpolate(filled, size=values.shape[-2:], mode="bilinear", align_corners=False)
    return torch.where(known > 0, values, up)
