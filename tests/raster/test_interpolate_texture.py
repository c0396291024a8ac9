"""interpolate and texture: values, nvdiffrast's texture convention, gradients (gradcheck)."""

from __future__ import annotations

import pytest
import torch

from tfvsdk.errors import InputError
from tfvsdk.raster import interpolate, rasterize, texture


def quad_rast(dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    pos = torch.tensor(
        [[[-0.9, -0.8, 0.0, 1.0], [0.85, -0.9, 0.1, 1.0], [0.8, 0.9, 0.2, 1.0], [-0.7, 0.75, 0.0, 1.0]]], dtype=dtype
    )
    tri = torch.tensor([[0, 1, 2], [0, 2, 3]], dtype=torch.int32)
    return rasterize(pos, tri, (6, 7)), tri


def test_interpolate_weights_vertices_by_u_v_and_one_minus_u_minus_v():
    rast, tri = quad_rast()
    attr = torch.randn(4, 5, dtype=torch.float64)
    out = interpolate(attr, rast, tri)
    ids = rast[..., 3].long() - 1
    corners = tri.long()[ids.clamp(min=0)]
    u, v = rast[..., 0:1], rast[..., 1:2]
    expected = u * attr[corners[..., 0]] + v * attr[corners[..., 1]] + (1 - u - v) * attr[corners[..., 2]]
    covered = ids >= 0
    assert torch.allclose(out[covered], expected[covered])
    assert (out[~covered] == 0).all()
    assert torch.equal(interpolate(attr[None], rast, tri), out)


def test_interpolate_gradcheck_wrt_attributes_and_barycentrics():
    rast, tri = quad_rast()
    attr = torch.randn(1, 4, 3, dtype=torch.float64, requires_grad=True)
    uv = rast[..., :2].clone().requires_grad_(True)

    def f(a: torch.Tensor, barys: torch.Tensor) -> torch.Tensor:
        return interpolate(a, torch.cat([barys, rast[..., 2:]], -1), tri)

    assert torch.autograd.gradcheck(f, (attr, uv))


def test_texel_centres_follow_nvdiffrast_convention():
    """Texel (row r, column c) is centred at (s, t) = ((c + 0.5) / Wt, (r + 0.5) / Ht)."""
    tex = torch.arange(12, dtype=torch.float64).view(1, 3, 4, 1)
    r, c = torch.meshgrid(torch.arange(3.0, dtype=torch.float64), torch.arange(4.0, dtype=torch.float64), indexing="ij")
    uv = torch.stack([(c + 0.5) / 4, (r + 0.5) / 3], -1)[None]
    for mode in ("wrap", "clamp", "zero"):
        assert torch.allclose(texture(tex, uv, boundary_mode=mode), tex)
    # halfway between texels (0, 0) and (0, 1): their mean
    halfway = texture(tex, torch.tensor([[[[0.25, 0.5 / 3]]]], dtype=torch.float64))
    assert torch.allclose(halfway, torch.tensor(0.5, dtype=torch.float64))


def test_boundary_modes():
    tex = torch.rand(1, 5, 6, 2, dtype=torch.float64)
    uv = torch.rand(1, 4, 4, 2, dtype=torch.float64)
    assert torch.allclose(texture(tex, uv + 1.0), texture(tex, uv))  # wrap: period 1
    assert torch.allclose(texture(tex, uv - 3.0), texture(tex, uv))
    far_left = torch.tensor([[[[-0.7, 0.5 / 5]]]], dtype=torch.float64)
    assert torch.allclose(texture(tex, far_left, boundary_mode="clamp"), tex[:, 0, 0])
    assert torch.allclose(texture(tex, far_left, boundary_mode="zero"), torch.zeros(2, dtype=torch.float64))
    # wrap across the seam: s = 0 is halfway between the last and the first column
    seam = texture(tex, torch.tensor([[[[0.0, 0.5 / 5]]]], dtype=torch.float64))
    assert torch.allclose(seam, (tex[:, 0, 0] + tex[:, 0, -1]) / 2)


@pytest.mark.parametrize("mode", ["wrap", "clamp", "zero"])
def test_texture_gradcheck_wrt_texture_and_uv(mode):
    g = torch.Generator().manual_seed(3)
    tex = torch.rand(2, 4, 5, 3, dtype=torch.float64, generator=g).requires_grad_(True)
    uv = (torch.rand(2, 3, 3, 2, dtype=torch.float64, generator=g) * 1.4 - 0.2).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t, c: texture(t, c, boundary_mode=mode), (tex, uv))


def test_texture_broadcasts_a_single_texture_over_the_batch():
    tex = torch.rand(1, 4, 4, 3)
    uv = torch.rand(3, 2, 2, 2)
    out = texture(tex, uv)
    assert out.shape == (3, 2, 2, 3)
    assert torch.allclose(out[1], texture(tex, uv[1:2])[0])


def test_bad_inputs_raise_input_error():
    rast, tri = quad_rast()
    with pytest.raises(InputError, match="attr"):
        interpolate(torch.zeros(3, 4, 2, dtype=torch.float64), rast, tri)
    with pytest.raises(InputError, match="boundary_mode"):
        texture(torch.zeros(1, 2, 2, 1), torch.zeros(1, 1, 1, 2), boundary_mode="mirror")
    with pytest.raises(InputError, match="uv"):
        texture(torch.zeros(1, 2, 2, 1), torch.zeros(1, 1, 1, 3))
    with pytest.raises(InputError, match="cuda"):
        texture(torch.zeros(1, 2, 2, 1), torch.zeros(1, 1, 1, 2), backend="cuda")
