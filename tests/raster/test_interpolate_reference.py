"""interpolate's PyTorch path against the straightforward full-frame formula: equal values and gradients."""

from __future__ import annotations

import pytest
import torch

from tfvsdk.raster import interpolate, rasterize

BATCH, VERTICES, TRIANGLES, SIZE = 3, 24, 16, (13, 17)


def reference(attr: torch.Tensor, rast: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """Every pixel through advanced indexing and a sum over the corners, multiplied by 0 where empty."""
    attr = attr[None] if attr.dim() == 2 else attr
    ids = rast[..., 3].long() - 1
    corners = tri.long()[ids.clamp(min=0)]
    if attr.shape[0] == 1:
        values = attr[0][corners]
    else:
        values = attr[torch.arange(rast.shape[0])[:, None, None, None], corners]
    u, v = rast[..., 0:1], rast[..., 1:2]
    weights = torch.cat([u, v, 1 - u - v], -1).to(attr.dtype)
    out = (weights.unsqueeze(-1) * values).sum(-2)
    return out * (ids >= 0).unsqueeze(-1).to(out.dtype)


def rasterization(kind: str, dtype: torch.dtype, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(rast, tri): random overlapping triangles rasterized (item 2 off screen, so empty), or a random
    buffer with arbitrary ids (0 = empty) and u, v also at the empty pixels."""
    tri = torch.randint(0, VERTICES, (TRIANGLES, 3), generator=g, dtype=torch.int32)
    if kind == "rasterized":
        xy = torch.rand(BATCH, VERTICES, 2, generator=g, dtype=torch.float64) * 2.4 - 1.2
        xy[2] += 5
        z = torch.rand(BATCH, VERTICES, 1, generator=g, dtype=torch.float64) - 0.5
        pos = torch.cat([xy, z, torch.ones_like(z)], -1)
        rast = rasterize(pos.to(dtype), tri, SIZE)
        assert rast[:2, ..., 3].gt(0).any() and rast[:2, ..., 3].eq(0).any() and rast[2, ..., 3].eq(0).all()
        return rast, tri
    uv = torch.rand(BATCH, *SIZE, 2, generator=g, dtype=torch.float64)
    ids = torch.randint(-TRIANGLES, TRIANGLES + 1, (BATCH, *SIZE, 1), generator=g).clamp(min=0)
    return torch.cat([uv, torch.rand_like(uv[..., :1]), ids], -1).to(dtype), tri


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["rasterized", "random"])
@pytest.mark.parametrize("layout", [(VERTICES,), (1, VERTICES), (BATCH, VERTICES)])
@pytest.mark.parametrize("channels", [1, 3])
def test_interpolate_equals_the_full_frame_formula_in_values_and_gradients(dtype, kind, layout, channels):
    g = torch.Generator().manual_seed(channels + 10 * len(layout))
    rast, tri = rasterization(kind, dtype, g)
    attr = (torch.randn(*layout, channels, generator=g, dtype=torch.float64) * 3).to(dtype).requires_grad_(True)
    uv = rast[..., :2].clone().requires_grad_(True)
    grad = torch.randn(BATCH, *SIZE, channels, generator=g, dtype=torch.float64).to(dtype)
    results = []
    for f in (interpolate, reference):
        out = f(attr, torch.cat([uv, rast[..., 2:]], -1), tri)
        results.append((out, *torch.autograd.grad(out, (attr, uv), grad)))
    for new, old in zip(*results):
        assert new.dtype == old.dtype and torch.equal(new, old)
    assert (results[0][0][rast[..., 3] == 0] == 0).all()


def test_interpolate_with_an_attribute_of_another_dtype_than_rast():
    g = torch.Generator().manual_seed(5)
    rast, tri = rasterization("rasterized", torch.float32, g)
    attr = torch.randn(BATCH, VERTICES, 2, generator=g, dtype=torch.float64)
    out = interpolate(attr, rast, tri)
    assert out.dtype == torch.float64 and torch.equal(out, reference(attr, rast, tri))
