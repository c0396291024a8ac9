"""The ``nvdiffrast`` renderer plugin: contract, conventions, shading, Rendering buffers."""

from __future__ import annotations

import math

import pytest
import torch

import tfvsdk
from tfvsdk.errors import InputError
from tfvsdk.raster.ops import KERNEL_ENV
from tfvsdk.testing import check_renderer


@pytest.mark.parametrize("kernel", ["numba", "torch"])
def test_renderer_keeps_the_renderer_contract(kernel, monkeypatch):
    monkeypatch.setenv(KERNEL_ENV, kernel)
    check_renderer(tfvsdk.create("renderer", "raster"))


def test_renderer_is_registered_with_a_description():
    assert "nvdiffrast" in tfvsdk.available("renderer")
    assert isinstance(tfvsdk.create("renderer", "raster", backend="torch"), tfvsdk.Renderer)


def test_texture_maps_without_flip_texel_centres_onto_pixel_centres():
    """A quad over the whole image with uv (0,0) at the top-left corner: pixel (x, y) shows texel (x, y)."""
    h, w = 6, 9
    vertices = torch.tensor([[[0, 0, 1.0], [w, 0, 1.0], [w, h, 1.0], [0, h, 1.0]]])
    triangles = torch.tensor([[0, 1, 2], [0, 2, 3]])
    uv = torch.tensor([[0, 0], [1, 0], [1, 1], [0, 1.0]])
    tex = torch.rand(1, 3, h, w)
    out = tfvsdk.create("renderer", "raster").render(vertices, triangles, (h, w), uv=uv, texture=tex)
    assert out.mask.all()
    assert torch.allclose(out.image, tex, atol=1e-5)


def test_buffers_follow_the_rendering_conventions(bump):
    verts, tri, uv, _ = bump
    cam = tfvsdk.Camera.from_euler(
        torch.tensor([0.4]), torch.zeros(1), torch.zeros(1), scale=torch.tensor([0.9]), translation=torch.tensor([[128.0, 128.0]])
    )
    screen = cam.project(verts[None])
    out = tfvsdk.create("renderer", "raster", background=(0.2, 0.4, 0.6)).render(screen, tri, (256, 256))
    covered = out.mask[:, 0] > 0
    assert torch.equal(covered, out.triangle_id >= 0)
    assert torch.isneginf(out.depth[:, 0][~covered]).all()
    assert torch.allclose(out.barycentrics.sum(-1)[covered], torch.ones(()))
    assert (out.barycentrics[~covered] == 0).all()
    # barycentrics reproduce the pixel centre and the depth is the interpolated screen z
    corners = screen[0, tri[out.triangle_id[0].clamp(min=0)]]
    point = (out.barycentrics[0][..., None] * corners).sum(-2)
    yy, xx = torch.meshgrid(torch.arange(256) + 0.5, torch.arange(256) + 0.5, indexing="ij")
    assert (point[..., :2] - torch.stack([xx, yy], -1))[covered[0]].abs().max() < 1e-3
    assert torch.allclose(point[..., 2][covered[0]], out.depth[0, 0][covered[0]], atol=1e-3)
    assert torch.allclose(out.image[0, :, ~covered[0]], torch.tensor([[0.2], [0.4], [0.6]]))


def test_nearer_surface_wins_in_screen_depth():
    square = [[2, 2], [30, 2], [30, 30], [2, 30]]
    vertices = torch.tensor([[[x, y, 5.0] for x, y in square] + [[x, y, 9.0] for x, y in square]])
    triangles = torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    for order in (triangles, triangles.flip(0)):
        out = tfvsdk.create("renderer", "raster").render(vertices, order, (32, 32))
        covered = out.mask[0, 0] > 0
        assert torch.allclose(out.depth[0, 0][covered], torch.tensor(9.0))


def test_lambert_shading_darkens_toward_the_outline():
    """An untextured sphere: brightest near the light direction, darker at grazing angles, never black."""
    n = 64
    theta, phi = torch.meshgrid(torch.linspace(0, math.pi, n), torch.linspace(0, 2 * math.pi, 2 * n), indexing="ij")
    sphere = torch.stack([theta.sin() * phi.cos(), theta.sin() * phi.sin(), theta.cos()], -1).view(-1, 3)
    idx = torch.arange(n * 2 * n).view(n, 2 * n)
    a, b = idx[:-1, :-1].flatten(), idx[:-1, 1:].flatten()
    c, d = idx[1:, :-1].flatten(), idx[1:, 1:].flatten()
    triangles = torch.cat([torch.stack([a, b, d], 1), torch.stack([a, d, c], 1)])
    screen = (sphere * 100 + torch.tensor([128.0, 128.0, 0.0]))[None]
    renderer = tfvsdk.create("renderer", "raster", light=(0, 0, 1), ambient=0.2)
    image = renderer.render(screen, triangles, (256, 256)).image[0, 0]
    assert image[128, 128] > 0.75 and image[128, 128] <= 0.8 + 1e-6
    assert image[128, 226] < 0.35
    assert image[128, 40] < image[128, 80] < image[128, 128]
    assert image[image > 0].min() >= 0.2 * 0.8 - 1e-6
    flat = tfvsdk.create("renderer", "raster", shading="none").render(screen, triangles, (256, 256)).image
    assert torch.allclose(flat[0, :, 128, 128], torch.tensor(0.8))


def test_gradients_reach_vertices_and_texture(bump):
    verts, tri, uv, _ = bump
    screen = (verts * 0.8 + torch.tensor([128.0, 128.0, 0.0]))[None].requires_grad_(True)
    tex = torch.rand(1, 3, 16, 16, requires_grad=True)
    out = tfvsdk.create("renderer", "raster", shading="lambert").render(screen, tri, (128, 128), uv=uv, texture=tex)
    (out.image * torch.rand_like(out.image)).sum().backward()
    assert screen.grad.abs().sum() > 0 and tex.grad.abs().sum() > 0


def test_bad_configuration_and_inputs_raise_input_error():
    with pytest.raises(InputError, match="shading"):
        tfvsdk.create("renderer", "raster", shading="phong")
    with pytest.raises(InputError, match="background"):
        tfvsdk.create("renderer", "raster", background=2.0)
    renderer = tfvsdk.create("renderer", "raster")
    vertices = torch.zeros(1, 3, 3)
    triangles = torch.tensor([[0, 1, 2]])
    with pytest.raises(InputError, match="uv"):
        renderer.render(vertices, triangles, (8, 8), texture=torch.zeros(1, 3, 4, 4))
    with pytest.raises(InputError, match="cuda"):
        tfvsdk.create("renderer", "raster", backend="cuda").render(vertices, triangles, (8, 8))
