"""The ``raster`` renderer: R = P(S, T^i, C^p) of eq. 3 for meshes already projected to screen space."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

import tfvsdk
from tfvsdk.errors import InputError
from tfvsdk.raster import BACKENDS, interpolate, rasterize, screen_to_clip, texture

SHADINGS = ("auto", "lambert", "none")


def _colour(name: str, value: float | Sequence[float]) -> tuple[float, ...]:
    values = (float(value),) if isinstance(value, (int, float)) else tuple(float(v) for v in value)
    if not values or any(not 0.0 <= v <= 1.0 for v in values):
        raise InputError(f"{name}: expected a value or a colour with entries in [0, 1], got {value!r}")
    return values


class RasterRenderer(tfvsdk.Renderer):
    """Rasterizes a screen-space mesh with :mod:`tfvsdk.raster` (nvdiffrast.torch on CUDA when installed).

    The image is the texture looked up through the interpolated ``uv`` (bilinear, clamped at the texture's
    border), or a flat ``albedo`` when no texture is given; with Lambertian shading it is multiplied by
    ``ambient + (1 − ambient) · max(0, n · l)``, n the interpolated vertex normal turned toward the viewer
    and l the fixed light direction (two-sided lighting). Pixels no triangle covers get ``background``.

    Args:
        shading: ``"lambert"``, ``"none"`` or ``"auto"`` (Lambert without a texture, none with one).
        background: background value, one number or one per channel, in [0, 1].
        albedo: colour of untextured meshes, one number or one per channel (3), in [0, 1].
        light: direction toward the light in screen space (x right, y down, z toward the viewer); the
            default comes from the front and a little above.
        ambient: share of the light that does not depend on the normal, in [0, 1].
        backend: ``"auto"``, ``"cuda"`` (nvdiffrast) or ``"torch"`` (the SDK's rasterizer), see
            :mod:`tfvsdk.raster.ops`.
    """

    def __init__(
        self,
        *,
        shading: str = "auto",
        background: float | Sequence[float] = 0.0,
        albedo: float | Sequence[float] = (0.8, 0.8, 0.8),
        light: Sequence[float] = (0.0, -0.4, 1.0),
        ambient: float = 0.3,
        backend: str = "auto",
    ) -> None:
        if shading not in SHADINGS:
            raise InputError(f"shading: expected one of {SHADINGS}, got {shading!r}")
        if backend not in BACKENDS:
            raise InputError(f"backend: expected one of {BACKENDS}, got {backend!r}")
        if not 0.0 <= ambient <= 1.0:
            raise InputError(f"ambient: expected a value in [0, 1], got {ambient!r}")
        light_t = torch.tensor([float(v) for v in light])
        if light_t.shape != (3,) or light_t.norm() == 0:
            raise InputError(f"light: expected a non-zero 3-vector, got {light!r}")
        self.shading = shading
        self.background = _colour("background", background)
        self.albedo = _colour("albedo", albedo)
        self.light = F.normalize(light_t, dim=0)
        self.ambient = float(ambient)
        self.backend = backend

    def _render(
        self,
        vertices: torch.Tensor,
        triangles: torch.Tensor,
        image_size: tuple[int, int],
        *,
        uv: torch.Tensor | None,
        texture: torch.Tensor | None,
    ) -> tfvsdk.Rendering:
        """Render; see :meth:`tfvsdk.Renderer.render`. ``texture`` may have a batch of 1 (shared)."""
        height, width = image_size
        tri = triangles.to(torch.int32)
        rast = rasterize(screen_to_clip(vertices, image_size), tri, (height, width), backend=self.backend)
        covered = rast[..., 3] > 0
        u, v = rast[..., 0], rast[..., 1]
        barycentrics = torch.stack([u, v, 1 - u - v], -1) * covered[..., None]
        depth = interpolate(vertices[..., 2:], rast, tri, backend=self.backend)[..., 0]
        pixels = _CoveredPixels(covered)
        colour = self._colour(vertices, tri, rast, pixels, uv, texture)
        if len(self.background) not in (1, colour.shape[-1]):
            raise InputError(f"background: {len(self.background)} values for an image of {colour.shape[-1]} channels")
        image = pixels.unpack(colour, colour.new_tensor(self.background))
        return tfvsdk.Rendering(
            image=image.permute(0, 3, 1, 2),
            mask=covered[:, None].to(vertices.dtype),
            depth=torch.where(covered, depth, -torch.inf)[:, None],
            triangle_id=rast[..., 3].long() - 1,
            barycentrics=barycentrics.to(vertices.dtype),
            vertices=vertices,
        )

    def _colour(
        self,
        vertices: torch.Tensor,
        tri: torch.Tensor,
        rast: torch.Tensor,
        pixels: _CoveredPixels,
        uv: torch.Tensor | None,
        tex: torch.Tensor | None,
    ) -> torch.Tensor:
        """(B, M, C) surface colour at the covered pixels, packed by ``pixels``."""
        if tex is not None:
            coords = interpolate(uv.to(vertices.dtype), rast, tri, backend=self.backend)
            texels = tex.permute(0, 2, 3, 1).to(vertices.dtype)
            if texels.requires_grad and torch.is_grad_enabled():
                # grid_sample's backward sums each texel's gradient in an order that depends on the pixels' layout
                colour = pixels.pack(texture(texels, coords, boundary_mode="clamp", backend=self.backend))
            else:
                colour = texture(texels, pixels.pack(coords)[:, None], boundary_mode="clamp", backend=self.backend)[:, 0]
        else:
            colour = vertices.new_tensor(self.albedo).expand(*pixels.index.shape, len(self.albedo))
        if self.shading == "lambert" or (self.shading == "auto" and tex is None):
            colour = colour * self._lambert(vertices, tri, rast, pixels)
        return colour

    def _lambert(
        self, vertices: torch.Tensor, tri: torch.Tensor, rast: torch.Tensor, pixels: _CoveredPixels
    ) -> torch.Tensor:
        """(B, M, 1) Lambertian factor with two-sided lighting at the covered pixels, packed by ``pixels``."""
        faces = tri.long()
        corners = vertices[:, faces]  # (B, T, 3, 3)
        face_normals = torch.linalg.cross(corners[:, :, 1] - corners[:, :, 0], corners[:, :, 2] - corners[:, :, 0])
        vertex_normals = torch.zeros_like(vertices).index_add(1, faces.flatten(), face_normals.repeat_interleave(3, 1))
        normals = pixels.pack(interpolate(F.normalize(vertex_normals, dim=-1), rast, tri, backend=self.backend))
        normals = F.normalize(normals, dim=-1)
        normals = normals * torch.where(normals[..., 2:] < 0, -1.0, 1.0)
        cosine = (normals * self.light.to(normals)).sum(-1, keepdim=True).clamp(min=0)
        return self.ambient + (1 - self.ambient) * cosine



NvdiffrastRenderer = RasterRenderer
"""Deprecated name of :class:`RasterRenderer` (registered as ``nvdiffrast`` before it was ``raster``)."""

class _CoveredPixels:
    """The covered pixels of a (B, H, W) mask, packed per item, so that per-pixel work on (B, M, C) values
    costs M / (H·W) of the full frame's and gives each covered pixel the same values (and gradients).

    Attributes:
        index: (B, M) row b lists item b's covered pixels in raster order as indices into the B·H·W pixels,
            M the largest count; the rest of the row repeats pixel 0 (computed, then dropped).
        pixel: (K,) the K covered pixels as indices into the B·H·W pixels, in raster order.
        slot: (K,) where each of them is in the flattened (B·M) ``index``.
        shape: (B, H, W).
    """

    def __init__(self, covered: torch.Tensor) -> None:
        batch = covered.shape[0]
        flat = covered.reshape(batch, -1)
        count = flat.sum(1)
        item, at = flat.nonzero(as_tuple=True)
        most = int(count.max()) if batch else 0
        rank = torch.arange(item.shape[0], device=item.device) - (count.cumsum(0) - count)[item]
        self.pixel = item * flat.shape[1] + at
        self.slot = item * most + rank
        index = torch.zeros(batch * most, dtype=torch.long, device=item.device).index_copy_(0, self.slot, self.pixel)
        self.index = index.view(batch, most)
        self.shape = covered.shape

    def pack(self, values: torch.Tensor) -> torch.Tensor:
        """(B, M, C) values at the covered pixels of (B, H, W, C) ``values``."""
        channels = values.shape[-1]
        return values.reshape(-1, channels).index_select(0, self.index.view(-1)).view(*self.index.shape, channels)

    def unpack(self, packed: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) image of (B, M, C) ``packed`` values at the covered pixels, ``fill`` (C,) or (1,) elsewhere."""
        channels = packed.shape[-1]
        image = fill.expand(self.shape.numel(), channels).clone()
        image.index_copy_(0, self.pixel, packed.reshape(-1, channels).index_select(0, self.slot))
        return image.view(*self.shape, channels)
