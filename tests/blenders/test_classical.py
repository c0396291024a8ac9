"""The ``classical`` blender: the frame outside M̂ is untouched, the seam is feathered inside M̂, colours match."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tfvsdk
from tfvsdk.testing import check_blender
from tfvsdk_blenders.classical import feathered_mask


def ellipse(h: int, w: int, cx: float = 0.0, cy: float = 0.0, rx: float = 0.5, ry: float = 0.7) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    return (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1).float()[None, None]


def test_keeps_the_blender_contract():
    check_blender(tfvsdk.create("blender", "classical"))


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(8, 64),
    w=st.integers(8, 64),
    seed=st.integers(0, 2**16),
    soft=st.booleans(),
    feather=st.sampled_from([0.0, 0.025, 0.1]),
)
def test_pixels_outside_the_mask_are_exactly_the_appearance_frame(h, w, seed, soft, feather):
    g = torch.Generator().manual_seed(seed)
    mask = (torch.rand(2, 1, h, w, generator=g) > 0.6).float()
    mask[1] = ellipse(h, w)[0]
    if soft:
        mask = mask * torch.rand(2, 1, h, w, generator=g)
    appearance = torch.rand(2, 3, h, w, generator=g)
    rendered = torch.rand(2, 3, h, w, generator=g) * mask
    out = tfvsdk.create("blender", "classical", feather=feather).blend(rendered, appearance, appearance * (1 - mask), mask)
    outside = (mask == 0).expand_as(out)
    assert torch.equal(out[outside], appearance[outside])
    assert out.min() >= 0 and out.max() <= 1


def test_an_affinely_recoloured_face_is_restored_exactly():
    """R = a·X + b inside M̂ (a different tone and contrast): mean/std transfer undoes it, so Y = X_p."""
    g = torch.Generator().manual_seed(0)
    mask = ellipse(48, 40)
    appearance = torch.rand(1, 3, 48, 40, generator=g)
    gain, offset = torch.tensor([0.7, 1.3, 0.9]).view(1, 3, 1, 1), torch.tensor([0.1, -0.2, 0.05]).view(1, 3, 1, 1)
    rendered = (appearance * gain + offset) * mask
    out = tfvsdk.create("blender", "classical").blend(rendered, appearance, appearance * (1 - mask), mask)
    torch.testing.assert_close(out, appearance, atol=1e-4, rtol=0)


def test_the_colour_of_the_face_follows_the_appearance_frame():
    mask = ellipse(64, 64)
    appearance = torch.full((1, 3, 64, 64), 0.2)
    appearance[:, 0] = 0.8 * mask[:, 0] + 0.1  # a reddish face on a dark frame
    rendered = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 0.3 * mask + 0.5 * mask
    out = tfvsdk.create("blender", "classical").blend(rendered, appearance, appearance * (1 - mask), mask)
    interior = feathered_mask(mask, 3) == 1
    face_mean = out[:, :, interior[0, 0]].mean(dim=-1)[0]
    assert face_mean[0] == pytest.approx(0.9, abs=0.03)
    assert face_mean[1] == pytest.approx(0.2, abs=0.03)


def test_the_feather_ramps_from_the_mask_border_to_full_weight_inside():
    mask = torch.zeros(1, 1, 1, 40)
    mask[..., 10:30] = 1
    weight = feathered_mask(mask, 3)[0, 0, 0]
    assert torch.equal(weight[:10], torch.zeros(10)) and torch.equal(weight[30:], torch.zeros(10))
    assert torch.equal(weight[16:24], torch.ones(8))  # 2r pixels inside the border and deeper
    ramp = weight[10:17]
    assert (ramp[1:] > ramp[:-1]).all() and 0 < ramp[0] < 0.2
    torch.testing.assert_close(weight, weight.flip(0))


def test_a_face_cut_by_the_frame_border_is_not_feathered_there():
    mask = torch.ones(1, 1, 20, 20)
    assert torch.equal(feathered_mask(mask, 3), mask)


def test_an_empty_mask_returns_the_appearance_frame():
    appearance = torch.rand(1, 3, 16, 16)
    mask = torch.zeros(1, 1, 16, 16)
    out = tfvsdk.create("blender", "classical").blend(torch.rand(1, 3, 16, 16), appearance, appearance, mask)
    assert torch.equal(out, appearance)


def test_bad_inputs_and_options_are_input_errors():
    blender = tfvsdk.create("blender", "classical")
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(tfvsdk.InputError, match="mask"):
        blender.blend(x, x, x, torch.rand(1, 3, 16, 16))
    with pytest.raises(tfvsdk.InputError, match="mask"):
        blender.blend(x, x, x, torch.full((1, 1, 16, 16), 2.0))
    with pytest.raises(tfvsdk.InputError, match="feather"):
        tfvsdk.create("blender", "classical", feather=0.7)
