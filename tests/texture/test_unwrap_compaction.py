"""unwrap_texture tests only the texels that can still pass; the result is the same, bit for bit, as testing
every texel of every image (the reference below, the SDK's former implementation)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import tfvsdk
from tfvsdk.raster import interpolate, rasterize, screen_to_clip, visible_points
from tfvsdk.texture import push_pull, unwrap_texture


def dense_unwrap(image, screen, triangles, uv, size, symmetry, margin, depth_tolerance=0.5, min_cosine=0.3):
    """Every texel of every image through every test, then the same push-pull fill."""
    batch, _, height, width = image.shape
    tri = triangles.long()
    uv_pos = torch.cat([2 * uv - 1, torch.zeros_like(uv[:, :1]), torch.ones_like(uv[:, :1])], -1)
    rast_uv = rasterize(uv_pos[None].to(screen.dtype), tri, (size, size)).expand(batch, -1, -1, -1).contiguous()
    texel_tri = rast_uv[..., 3].long() - 1
    inside = texel_tri >= 0
    screen_tri = rasterize(screen_to_clip(screen, (height, width)), tri, (height, width))[..., 3].long() - 1
    covered = screen_tri >= 0
    if margin > 0:
        outside = (~covered)[:, None].to(image.dtype)
        covered = F.max_pool2d(outside, 2 * margin + 1, stride=1, padding=margin)[:, 0] == 0
    b = torch.arange(batch)[:, None, None]

    def facing(corners, sign):
        normal = torch.linalg.cross(corners[..., 1, :] - corners[..., 0, :], corners[..., 2, :] - corners[..., 0, :])
        return sign * normal[..., 2] >= min_cosine * normal.norm(dim=-1).clamp(min=1e-12)

    def footprint(points):
        ix0, iy0 = torch.floor(points[..., 0] - 0.5).long(), torch.floor(points[..., 1] - 0.5).long()
        ok = (ix0 >= 0) & (iy0 >= 0) & (ix0 + 1 < width) & (iy0 + 1 < height)
        ix0, iy0 = ix0.clamp(0, width - 2), iy0.clamp(0, height - 2)
        for dy in (0, 1):
            for dx in (0, 1):
                ok &= covered[b, iy0 + dy, ix0 + dx]
        return ok

    def sample(points):
        grid = torch.stack([2 * points[..., 0] / width - 1, 2 * points[..., 1] / height - 1], -1)
        return F.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode="border", align_corners=False)

    triangle_facing = facing(screen[:, tri], -1)
    points = interpolate(screen, rast_uv, tri)
    visible = (
        inside
        & torch.gather(triangle_facing, 1, texel_tri.clamp(min=0).view(batch, -1)).view_as(inside)
        & footprint(points)
        & visible_points(points, screen_tri, screen, tri, tolerance=depth_tolerance)
    )
    colour, known = sample(points), visible
    if symmetry is not None:
        mirror = symmetry[tri[texel_tri.clamp(min=0)]]  # (B, S, S, 3)
        u, v = rast_uv[..., 0:1], rast_uv[..., 1:2]
        weights = torch.cat([u, v, 1 - u - v], -1)
        mirror_corners = screen[b[..., None], mirror.clamp(min=0)]
        mirror_points = (weights[..., None] * mirror_corners).sum(-2)
        mirror_ok = (
            inside
            & (mirror >= 0).all(-1)
            & ~visible
            & facing(mirror_corners, 1)
            & footprint(mirror_points)
            & visible_points(mirror_points, screen_tri, screen, tri, tolerance=depth_tolerance)
        )
        colour = torch.where(mirror_ok[:, None], sample(mirror_points), colour)
        known = visible | mirror_ok
    texture = push_pull(colour, known[:, None].to(colour.dtype))
    return texture.clamp(0, 1), visible[:, None].to(image.dtype)


@pytest.fixture(scope="module")
def model():
    return tfvsdk.morphable.load_builtin()


def faces(model, batch, height, width, dtype=torch.float32, offset=(0.0, 0.0)):
    """Images and the built-in face's screen vertices, yaw −40° … 40°, random identities and expressions."""
    g = torch.Generator().manual_seed(batch)
    with torch.no_grad():
        alpha_id = torch.randn(batch, model.n_id, generator=g) * 0.7
        shape = model.shape(alpha_id, torch.randn(batch, model.n_exp, generator=g) * 0.7)
        extent = float((shape[0, :, :2].amax(0) - shape[0, :, :2].amin(0)).max())
        camera = tfvsdk.Camera.from_euler(
            torch.linspace(-40, 40, batch) * math.pi / 180,
            (torch.rand(batch, generator=g) - 0.5) * 0.4,
            (torch.rand(batch, generator=g) - 0.5) * 0.3,
            scale=torch.full((batch,), 0.75 * min(height, width) / extent),
            translation=torch.tensor([[width / 2 + offset[0], height / 2 + offset[1]]]).expand(batch, 2).contiguous(),
        )
        screen = camera.project(shape).to(dtype)
    return torch.rand(batch, 3, height, width, generator=g), screen


@pytest.mark.parametrize(
    ("size", "margin", "mirror"), [(256, 2, True), (256, 0, False), (100, 4, True), (128, 1, False)]
)
def test_matches_testing_every_texel(model, size, margin, mirror):
    image, screen = faces(model, 6, 256, 256)
    symmetry = model.symmetry if mirror else None
    texture, valid = unwrap_texture(image, screen, model.triangles, model.uv, size, symmetry, margin=margin)
    expected, expected_valid = dense_unwrap(image, screen, model.triangles, model.uv, size, symmetry, margin)
    assert torch.equal(valid, expected_valid)
    assert torch.equal(texture, expected)
    assert 0.3 < valid.mean() < 0.9


def test_matches_testing_every_texel_in_float64_off_centre(model):
    """Non-square frames in float64, the face partly outside them."""
    image, screen = faces(model, 4, 200, 300, torch.float64, offset=(120.0, -60.0))
    texture, valid = unwrap_texture(image, screen, model.triangles, model.uv, 128, model.symmetry, margin=2)
    expected, expected_valid = dense_unwrap(image, screen, model.triangles, model.uv, 128, model.symmetry, 2)
    assert torch.equal(valid, expected_valid)
    assert torch.equal(texture, expected)
    assert valid.mean() > 0.1
