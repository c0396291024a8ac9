"""unwrap_texture (T^i of eq. 3): visible texels come back from the image; hidden ones are filled."""

from __future__ import annotations

import math

import pytest
import torch

import tfvsdk
from tfvsdk.errors import InputError
from tfvsdk.texture import unwrap_texture


def smooth_texture(size: int = 128, batch: int = 1) -> torch.Tensor:
    """(batch, 3, size, size) smooth colourful texture in [0.1, 0.9]."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    tex = torch.stack(
        [0.5 + 0.4 * torch.sin(6 * xx), 0.5 + 0.4 * torch.cos(5 * yy), 0.5 + 0.3 * torch.sin(4 * (xx + yy) + math.pi / 3)]
    )
    return tex[None].expand(batch, -1, -1, -1).contiguous()


def view(verts: torch.Tensor, yaw: float) -> torch.Tensor:
    cam = tfvsdk.Camera.from_euler(
        torch.tensor([yaw]), torch.tensor([0.1]), torch.zeros(1), scale=torch.tensor([1.0]), translation=torch.tensor([[128.0, 128.0]])
    )
    return cam.project(verts[None])


def render(screen, tri, uv, tex):
    return tfvsdk.create("renderer", "raster").render(screen, tri, (256, 256), uv=uv, texture=tex).image


def test_visible_texels_are_recovered_from_a_frontal_render(bump):
    verts, tri, uv, _ = bump
    tex = smooth_texture(128)
    screen = view(verts, 0.0)
    texture, valid = unwrap_texture(render(screen, tri, uv, tex), screen, tri, uv, size=128)
    assert texture.shape == (1, 3, 128, 128) and valid.shape == (1, 1, 128, 128)
    assert valid.mean() > 0.85
    err = (texture - tex).abs().amax(1)[valid[:, 0] > 0]
    assert err.mean() < 0.005 and err.quantile(0.99) < 0.03


def test_a_margin_keeps_background_at_a_misfit_outline_out_of_the_texture(bump):
    """A fitted mesh 3 px larger than the face in the image: with margin=4 no valid texel reads background."""
    import torch.nn.functional as F

    verts, tri, uv, _ = bump
    screen = view(verts, 0.0)
    covered = tfvsdk.create("renderer", "raster").render(screen, tri, (256, 256)).mask
    face = 1 - F.max_pool2d(1 - covered, 7, stride=1, padding=3)  # the true face: 3 px inside the outline
    image = face.expand(1, 3, -1, -1).contiguous()
    for margin, clean in ((0, False), (4, True)):
        texture, valid = unwrap_texture(image, screen, tri, uv, size=128, margin=margin)
        assert bool((texture[:, 0][valid[:, 0] > 0] > 0.999).all()) == clean
    assert valid.mean() > 0.5


def test_hidden_texels_are_filled_from_the_mirror_side_then_smoothly(bump):
    verts, tri, uv, symmetry = bump
    tex = smooth_texture(128)
    tex = (tex + tex.flip(-1)) / 2  # a mirror-symmetric face texture: the truth for hidden texels is known
    screen = view(verts, 0.9)
    image = render(screen, tri, uv, tex)
    mirrored, valid = unwrap_texture(image, screen, tri, uv, size=128, symmetry=symmetry)
    plain, valid_plain = unwrap_texture(image, screen, tri, uv, size=128)
    assert torch.equal(valid, valid_plain)
    hidden = valid[:, 0] == 0
    assert 0.1 < hidden.float().mean() < 0.6
    err_mirror = (mirrored - tex).abs().amax(1)[hidden]
    err_plain = (plain - tex).abs().amax(1)[hidden]
    assert err_mirror.median() < 0.02 < err_plain.median()
    for texture in (mirrored, plain):  # never black, never out of range
        assert texture.min() > 0.05 and texture.max() <= 1


def test_no_visible_face_gives_the_image_mean_colour(bump, caplog):
    verts, tri, uv, _ = bump
    screen = view(verts, 0.0) + torch.tensor([1000.0, 0.0, 0.0])  # entirely outside the image
    image = torch.full((1, 3, 256, 256), 0.25)
    texture, valid = unwrap_texture(image, screen, tri, uv, size=32)
    assert valid.sum() == 0
    assert torch.allclose(texture, torch.tensor(0.25))
    assert "no texel is visible" in caplog.text


def test_unwraps_the_surrey_face_model(sfm_path):
    model = tfvsdk.morphable.load_npz(sfm_path)
    shape = model.shape(torch.zeros(1, model.n_id), torch.zeros(1, model.n_exp))
    tex = smooth_texture(256)
    screen = view(shape[0] * 1.3, 0.3)
    image = render(screen, model.triangles, model.uv, tex)
    texture, valid = unwrap_texture(image, screen, model.triangles, model.uv, size=256, symmetry=model.symmetry)
    err = (texture - tex).abs().amax(1)[valid[:, 0] > 0]
    assert valid.mean() > 0.4
    assert err.mean() < 0.005 and err.quantile(0.99) < 0.05
    assert texture.min() > 0.05


def test_bad_inputs_raise_input_error(bump):
    verts, tri, uv, _ = bump
    screen = view(verts, 0.0)
    with pytest.raises(InputError, match="uv"):
        unwrap_texture(torch.zeros(1, 3, 8, 8), screen, tri, uv[:-1])
    with pytest.raises(InputError, match="size"):
        unwrap_texture(torch.zeros(1, 3, 8, 8), screen, tri, uv, size=0)
