"""The ``classical`` blender: the frame outside M̂ is untouched, the seam is feathered inside M̂, colours match."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tfvsdk
from tfvsdk.testing import check_blender
from tfvsdk_blenders.classical import TONES, _from_luma_chroma, _luma_chroma, feathered_mask


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


def test_a_re_exposed_and_re_tinted_face_is_restored_exactly():
    """R = X with its luminance scaled and shifted and its log-chromaticities shifted inside M̂ (another
    exposure, contrast and skin tone): the default transfer undoes it, so Y = X_p. R has more contrast than
    X here, so the gain (< 1) is the same on shading and detail; the other way round see
    ``test_a_capped_detail_gain…`` (the default keeps R's detail) and ``max_detail_gain=None`` below."""
    g = torch.Generator().manual_seed(0)
    mask = ellipse(48, 40).double()
    appearance = 0.25 + 0.5 * torch.rand(1, 3, 48, 40, generator=g, dtype=torch.float64)
    features = _luma_chroma(appearance)
    shift = torch.tensor([0.15, -0.1], dtype=torch.float64).view(1, 2, 1, 1)
    for contrast, options in ((1.25, {}), (0.8, {"max_detail_gain": None})):
        changed = torch.cat([contrast * features[:, :1] - 0.1 * contrast + 0.08, features[:, 1:] + shift], 1)
        rendered = _from_luma_chroma(changed) * mask
        assert 0 <= float(rendered.min()) and float(rendered.max()) <= 1
        out = tfvsdk.create("blender", "classical", **options).blend(rendered, appearance, appearance * (1 - mask), mask)
        torch.testing.assert_close(out, appearance, atol=3e-4, rtol=0)  # up to the 1e-5 the spreads' variance gets


def test_an_affinely_recoloured_face_is_restored_exactly_per_channel():
    """R = a·X + b per RGB channel inside M̂: ``tone="target"``'s per-channel mean/std transfer undoes it."""
    g = torch.Generator().manual_seed(0)
    mask = ellipse(48, 40)
    appearance = torch.rand(1, 3, 48, 40, generator=g)
    gain, offset = torch.tensor([0.7, 1.3, 0.9]).view(1, 3, 1, 1), torch.tensor([0.1, -0.2, 0.05]).view(1, 3, 1, 1)
    rendered = (appearance * gain + offset) * mask
    out = tfvsdk.create("blender", "classical", tone="target").blend(rendered, appearance, appearance * (1 - mask), mask)
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


def test_poisson_mode_keeps_the_contract_and_the_frame_outside_the_mask():
    blender = tfvsdk.create("blender", "classical", mode="poisson")
    check_blender(blender)
    g = torch.Generator().manual_seed(1)
    mask = ellipse(48, 40)
    appearance = torch.rand(1, 3, 48, 40, generator=g)
    out = blender.blend(torch.rand(1, 3, 48, 40, generator=g) * mask, appearance, appearance * (1 - mask), mask)
    assert torch.equal(out[mask.expand_as(out) == 0], appearance[mask.expand_as(out) == 0])


def border_jump(image: torch.Tensor, region: torch.Tensor) -> float:
    """Mean colour step between horizontally adjacent pixels where one is in ``region`` and the other not."""
    crossing = region[..., 1:] != region[..., :-1]
    steps = (image[..., 1:] - image[..., :-1]).abs().mean(1, keepdim=True)
    return float(steps[crossing].mean())


def test_poisson_mode_meets_the_frame_without_a_step_and_keeps_the_faces_detail():
    mask = ellipse(64, 64)
    frame = torch.tensor([0.75, 0.7, 0.62]).view(1, 3, 1, 1).expand(1, 3, 64, 64).clone()  # coloured: see the greyscale test
    xx = torch.linspace(0, 1, 64).expand(1, 3, 64, 64)
    face = (0.3 + 0.1 * torch.sin(12 * xx)) * torch.tensor([1.0, 0.7, 0.6]).view(1, 3, 1, 1) * mask  # darker, striped
    region = -torch.nn.functional.max_pool2d(-mask, 3, stride=1, padding=1) > 0  # Ω for feather 1/64

    def blend(**config) -> torch.Tensor:
        return tfvsdk.create("blender", "classical", tone="identity", feather=1 / 64, **config).blend(face, frame, frame * (1 - mask), mask)

    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    matched = face * (luma * frame).sum(1, keepdim=True)[..., 32, 32] / ((luma * face).sum(1, keepdim=True) * mask).sum() * mask.sum()
    pasted = torch.where(region, matched, frame)

    def laplacian_of_membrane(out: torch.Tensor) -> float:
        d = out - matched
        lap = 4 * d[..., 1:-1, 1:-1] - d[..., :-2, 1:-1] - d[..., 2:, 1:-1] - d[..., 1:-1, :-2] - d[..., 1:-1, 2:]
        inner = -torch.nn.functional.max_pool2d(-region.float(), 3, stride=1, padding=1)[..., 1:-1, 1:-1] > 0
        return float(lap.abs().mean(1, keepdim=True)[inner].mean())

    poisson = blend(mode="poisson")
    assert border_jump(poisson, region) < 0.25 * border_jump(pasted, region)
    assert laplacian_of_membrane(poisson) < 0.5 * laplacian_of_membrane(blend(mode="poisson", iterations=0))
    detail = poisson[..., 32, 20:44].std(-1)
    assert float(detail.min()) > 0.5 * float(face[..., 32, 20:44].std(-1).min())


def test_identity_tone_keeps_the_rendered_chromaticity_and_takes_the_frames_brightness():
    mask = ellipse(32, 32)
    rendered = torch.tensor([0.8, 0.5, 0.4]).view(1, 3, 1, 1) * mask
    frame = torch.tensor([0.3, 0.3, 0.5]).view(1, 3, 1, 1).expand(1, 3, 32, 32).clone()
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    out = tfvsdk.create("blender", "classical", tone="identity").blend(rendered, frame, frame * (1 - mask), mask)
    centre = out[..., 16, 16]

    assert torch.allclose(centre / centre.sum(), rendered[..., 16, 16] / rendered[..., 16, 16].sum(), atol=1e-5)
    assert torch.allclose((luma[..., 0, 0] * centre).sum(), (luma[..., 0, 0] * frame[..., 16, 16]).sum(), atol=1e-5)


def test_identity_tone_gives_a_greyscale_rendering_the_frames_colour():
    mask = ellipse(32, 32)
    rendered = 0.5 * mask.expand(1, 3, 32, 32) + 0.1 * torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * mask
    frame = torch.tensor([0.8, 0.5, 0.4]).view(1, 3, 1, 1).expand(1, 3, 32, 32).clone()
    out = tfvsdk.create("blender", "classical", tone="identity").blend(rendered, frame, frame * (1 - mask), mask)
    assert float(out[0, 0, 16, 16] - out[0, 2, 16, 16]) > 0.3


@pytest.mark.parametrize("tone", TONES)
def test_a_greyscale_rendering_takes_the_colour_of_the_frames_face_around_each_pixel_at_its_own_shading(tone):
    """A face textured from a black-and-white photo has no skin tone to keep and no per-channel spread to
    scale: every pixel takes the chromaticity of the frame's face around it, scaled by its own luminance
    (with the frame's mean luminance and a bounded contrast gain) — ruddy where the frame's face is ruddy,
    cooler where it is cool — so lit and shaded skin keep the colour of where they lie."""
    mask = ellipse(96, 96)
    g = torch.Generator().manual_seed(4)
    grey = (0.55 + 0.1 * torch.randn(1, 1, 96, 96, generator=g)).clamp(0, 1).expand(1, 3, 96, 96) * mask
    ruddy, cool = torch.tensor([0.8, 0.5, 0.4]), torch.tensor([0.62, 0.569, 0.517])  # of one luminance, 0.578
    frame = torch.where(torch.arange(96) < 48, ruddy.view(3, 1, 1), cool.view(3, 1, 1))[None].expand(1, 3, 96, 96)
    frame = frame * (1 + 0.05 * torch.randn(1, 1, 96, 96, generator=g))  # the left half ruddy, the right cool

    def blend(rendered: torch.Tensor, tone: str) -> torch.Tensor:
        return tfvsdk.create("blender", "classical", tone=tone).blend(rendered, frame, frame * (1 - mask), mask)

    out = blend(grey, tone)
    chromaticity = out / out.sum(1, keepdim=True)
    for colour, columns in ((ruddy, slice(28, 36)), (cool, slice(60, 68))):  # a fifth of the face from the halves' edge
        seen = chromaticity[0, :, 40:56, columns].flatten(1)
        torch.testing.assert_close(seen, (colour / colour.sum())[:, None].expand_as(seen), atol=0.015, rtol=0)
    interior = (feathered_mask(mask, 1) == 1)[0, 0] & (out[0] < 1).all(0)  # pixels the output's [0, 1] did not clip
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1)
    brightness = (luma * out[:, :, interior]).sum(1)
    assert float(brightness.std()) > 0.5 * float((luma * grey[:, :, interior]).sum(1).std())  # its shading kept
    tinted = grey * torch.tensor([1.1, 1.0, 0.9]).view(1, 3, 1, 1)  # a coloured face is not recoloured so
    tinted_out = blend(tinted, tone)[:, :, interior]
    assert float((tinted_out / tinted_out.sum(1, keepdim=True) - chromaticity[:, :, interior]).abs().max()) > 0.02


@pytest.mark.parametrize("tone", TONES)
def test_a_greyscale_rendering_takes_the_colour_the_frames_skin_has_at_its_own_luminance(tone):
    """The frame's face is lit from the left and, as skin is, ruddier in shadow; the identity's shading is
    the other way round. Where the frame is in shadow and the new face lit, the new face takes the pale colour
    the frame's lit skin has, not the ruddy colour of the shadow that lies there (which turned an
    identity's shadow grey where the frame's face was lit and pale)."""
    mask = ellipse(96, 96)
    x = torch.linspace(0, 1, 96).view(1, 1, 1, 96).expand(1, 1, 96, 96)
    g = torch.Generator().manual_seed(5)

    def skin(brightness: torch.Tensor) -> torch.Tensor:  # log r/g = 0.9 − 0.8 · brightness: ruddier in shadow
        r_over_g = torch.exp(0.9 - 0.8 * brightness)
        return brightness * torch.cat([r_over_g, torch.ones_like(brightness), 0.8 * torch.ones_like(brightness)], 1) / (0.299 * r_over_g + 0.587 + 0.114 * 0.8)

    frame = skin((0.8 - 0.4 * x) * (1 + 0.02 * torch.randn(1, 1, 96, 96, generator=g))).clamp(0, 1)
    grey = (0.4 + 0.4 * x).expand(1, 3, 96, 96) * mask
    out = tfvsdk.create("blender", "classical", tone=tone).blend(grey, frame, frame * (1 - mask), mask)

    def at_right(values: torch.Tensor) -> float:  # the mean over a patch on the face's right, frame shadowed, face lit
        return float(values[0, 40:56, 60:66].mean())

    def log_r_over_g(image: torch.Tensor) -> torch.Tensor:
        return torch.log((image[:, 0] + 0.02) / (image[:, 1] + 0.02))

    luminance = 0.299 * out[:, :1] + 0.587 * out[:, 1:2] + 0.114 * out[:, 2:]
    assert at_right(luminance[:, 0]) > at_right((0.299 * frame[:, 0] + 0.587 * frame[:, 1] + 0.114 * frame[:, 2])) + 0.1
    assert at_right(log_r_over_g(frame)) > at_right(log_r_over_g(out)) + 0.05  # paler than the shadow it lies on
    assert at_right(log_r_over_g(out)) == pytest.approx(at_right(log_r_over_g(skin(luminance))), abs=0.05)  # the frame's skin at its luminance


@pytest.mark.parametrize("tone", TONES)
def test_a_coloured_face_pasted_into_a_greyscale_frame_comes_out_grey(tone):
    """A black-and-white video keeps no colour: the per-channel transfer normalised the rendering's three
    channels apart and left their differences as coloured blotches on the grey face."""
    mask = ellipse(48, 48)
    g = torch.Generator().manual_seed(5)
    face = ((0.6 + 0.1 * torch.randn(1, 3, 48, 48, generator=g)) * torch.tensor([1.1, 0.9, 0.8]).view(1, 3, 1, 1)).clamp(0, 1)
    frame = (0.4 + 0.2 * torch.rand(1, 1, 48, 48, generator=g)).expand(1, 3, 48, 48)
    out = tfvsdk.create("blender", "classical", tone=tone).blend(face * mask, frame, frame * (1 - mask), mask)
    assert float((out - out.mean(1, keepdim=True)).abs().max()) < 1e-6


def test_unknown_tone_or_mode_is_an_input_error():
    with pytest.raises(tfvsdk.InputError, match="tone"):
        tfvsdk.create("blender", "classical", tone="sepia")
    with pytest.raises(tfvsdk.InputError, match="mode"):
        tfvsdk.create("blender", "classical", mode="laplacian")


def log_chroma(x: torch.Tensor) -> torch.Tensor:
    r, g, b = (x + 0.02).unbind(1)
    return torch.stack([torch.log(r / g), torch.log(b / g)], 1)


def test_the_default_tone_takes_the_frames_skin_colour_and_never_saturates_the_faces_features():
    """A pale face with pink lips onto a ruddy, contrasty frame. The default (``"target-chroma"``) gives the
    face the frame's mean luminance, contrast and chromaticity inside M̂, and the lips at most their own
    saturation relative to the skin; the per-channel ``"target"`` transfer turned them magenta (their hue
    contrast amplified by the channels' different gains)."""
    mask = ellipse(64, 64)
    g = torch.Generator().manual_seed(7)
    face = (0.7 + 0.03 * torch.randn(1, 1, 64, 64, generator=g)) * torch.tensor([1.0, 0.93, 0.9]).view(1, 3, 1, 1)
    lips = (..., slice(44, 48), slice(24, 40))
    face[lips] = torch.tensor([0.75, 0.5, 0.55]).view(1, 3, 1, 1)
    frame = torch.stack([0.7 + 0.2 * torch.randn(64, 64, generator=g), 0.45 + 0.08 * torch.randn(64, 64, generator=g),
                         0.35 + 0.06 * torch.randn(64, 64, generator=g)])[None].clamp(0, 1)
    rendered = face * mask

    def blend(tone: str | None) -> torch.Tensor:
        options = {} if tone is None else {"tone": tone}
        return tfvsdk.create("blender", "classical", **options).blend(rendered, frame, frame * (1 - mask), mask)

    skin = (..., slice(20, 36), slice(24, 40))

    def saturation(image: torch.Tensor) -> float:
        chroma = log_chroma(image)
        return float((chroma[lips].mean((-2, -1)) - chroma[skin].mean((-2, -1))).norm())

    default = blend(None)
    torch.testing.assert_close(default, blend("target-chroma"))
    assert saturation(default) <= saturation(rendered) * 1.05
    assert saturation(blend("target")) > 1.5 * saturation(rendered)
    inside = mask[0, 0] > 0
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    matched = tfvsdk.create("blender", "classical")._match_colour(rendered, frame, mask)
    for ours, theirs in (((luma * matched).sum(1), (luma * frame).sum(1)), (log_chroma(matched.clamp(0, 1))[:, 0], log_chroma(frame)[:, 0])):
        assert float(ours[0][inside].mean()) == pytest.approx(float(theirs[0][inside].mean()), abs=0.02)
    frame_spread = float((luma * frame).sum(1)[0][inside].std())
    one_gain = tfvsdk.create("blender", "classical", max_detail_gain=None)._match_colour(rendered, frame, mask)
    assert float((luma * one_gain).sum(1)[0][inside].std()) == pytest.approx(frame_spread, rel=0.1)
    assert float((luma * matched).sum(1)[0][inside].std()) < 0.7 * frame_spread  # the face keeps its own fine detail


def test_target_mean_tone_takes_the_frames_mean_colour_and_keeps_the_faces_hue_contrast():
    """A greyish face with dark features onto a ruddy, contrasty frame: ``"target"`` scales each channel by
    its own gain (dark features turn red-black), ``"target-mean"`` moves the mean colour and scales the
    deviations by one bounded luminance gain, so a dark feature stays neutral relative to the face."""
    mask = ellipse(64, 64)
    g = torch.Generator().manual_seed(2)
    tint = torch.tensor([1.05, 1.0, 0.95]).view(1, 3, 1, 1)  # coloured: a grey face gets "target-mean" under any tone
    face = (0.6 + 0.05 * torch.randn(1, 1, 64, 64, generator=g)) * tint
    face[..., 28:32, 20:44] = 0.25 * tint  # a dark, nearly grey feature (brows)
    frame = torch.stack([0.75 + 0.25 * torch.randn(64, 64, generator=g), 0.5 + 0.12 * torch.randn(64, 64, generator=g),
                         0.4 + 0.08 * torch.randn(64, 64, generator=g)])[None].clamp(0, 1)
    rendered, frame = face * mask, frame

    def blend(tone: str) -> torch.Tensor:
        return tfvsdk.create("blender", "classical", tone=tone).blend(rendered, frame, frame * (1 - mask), mask)

    feature, skin = (..., slice(29, 31), slice(24, 40)), (..., slice(40, 48), slice(24, 40))
    for tone, hue_spread in (("target-mean", 0.16), ("target", 0.3)):
        out = blend(tone)
        shift = out[feature].mean((-2, -1)) - out[skin].mean((-2, -1))  # (1, 3): the feature relative to the skin
        spread = float(shift.max() - shift.min())
        assert (spread < hue_spread) if tone == "target-mean" else (spread > hue_spread), (tone, shift)
    interior = feathered_mask(mask, 3) == 1
    mean = blend("target-mean")[:, :, interior[0, 0]].mean(-1)
    expected = frame[:, :, mask[0, 0] > 0].mean(-1)
    torch.testing.assert_close(mean, expected, atol=0.05, rtol=0)  # the dark band pulls the interior's mean


def test_target_mean_tone_bounds_the_contrast_gain():
    mask = ellipse(48, 48)
    g = torch.Generator().manual_seed(3)
    flat = (0.5 + 0.01 * torch.randn(1, 3, 48, 48, generator=g)) * torch.tensor([1.1, 1.0, 0.9]).view(1, 3, 1, 1) * mask
    busy = torch.rand(1, 3, 48, 48, generator=g)
    out = tfvsdk.create("blender", "classical", tone="target-mean", max_contrast=1.5).blend(flat, busy, busy * (1 - mask), mask)
    interior = feathered_mask(mask, 2)[0, 0] == 1
    for channel in range(3):
        assert float(out[0, channel][interior].std()) <= 1.5 * float(flat[0, channel][interior].std()) * 1.05
    with pytest.raises(tfvsdk.InputError, match="max_contrast"):
        tfvsdk.create("blender", "classical", max_contrast=0.5)


@pytest.mark.parametrize("tone", TONES)
def test_a_greyscale_rendering_holding_the_frames_mouth_is_still_coloured_by_the_frame(tone):
    """The editor puts the frame's own pixels into the rendering where the identity shows no skin (the mouth
    interior, the forehead under hair): a quarter of the face in colour does not make a black-and-white
    identity a colour one."""
    mask = ellipse(48, 48)
    g = torch.Generator().manual_seed(6)
    frame = torch.stack([0.75 + 0.05 * torch.randn(48, 48, generator=g), 0.5 + 0.03 * torch.randn(48, 48, generator=g),
                         0.4 + 0.02 * torch.randn(48, 48, generator=g)])[None].clamp(0, 1)
    grey = (0.55 + 0.1 * torch.randn(1, 1, 48, 48, generator=g)).clamp(0, 1).expand(1, 3, 48, 48).clone()
    mouth = torch.zeros(1, 1, 48, 48, dtype=torch.bool)
    mouth[..., 26:38, 12:36] = True
    rendered = torch.where(mouth, frame, grey) * mask
    assert float(mouth.float().mul(mask).sum() / mask.sum()) > 0.2

    out = tfvsdk.create("blender", "classical", tone=tone).blend(rendered, frame, frame * (1 - mask), mask)

    skin = (feathered_mask(mask, 1) == 1)[0, 0] & ~mouth[0, 0]
    mean_colour = frame[:, :, mask[0, 0] > 0].mean(-1)
    chromaticity = out[:, :, skin] / out[:, :, skin].sum(1, keepdim=True)
    torch.testing.assert_close(chromaticity, (mean_colour / mean_colour.sum())[..., None].expand_as(chromaticity), atol=0.02, rtol=0)


def test_a_capped_detail_gain_lifts_the_shading_to_the_frames_contrast_but_not_the_faces_blotches():
    """R: soft shading across the face and a small dark blotch; the frame: stronger shading (a contrast gain
    of ~2). By default (``max_detail_gain=1``) the shading takes the gain and the blotch keeps its own depth;
    with one gain on everything (``max_detail_gain=None``, the transfer before session 35) the blotch darkens with it — the dark patches and
    strokes a smooth texture got on a contrasty frame."""
    h = w = 192
    mask = ellipse(h, w)
    x = torch.linspace(-1, 1, w).view(1, 1, 1, w).expand(1, 1, h, w)
    skin = torch.tensor([1.0, 0.8, 0.7]).view(1, 3, 1, 1)
    rendered = (0.6 + 0.05 * x) * skin
    blotch = (..., slice(95, 98), slice(95, 98))  # 3 px; the shading's scale is 1/10 of the face (~10 px here)
    rendered[blotch] -= 0.1
    frame = (0.55 + 0.12 * x) * skin
    rendered = rendered * mask

    def depth(image: torch.Tensor) -> float:
        around = (image[..., 92:101, 92:101].sum() - image[blotch].sum()) / (3 * 72)
        return float(around - image[blotch].mean())

    def slope(image: torch.Tensor) -> float:
        return float(image[..., 60:80, 120:140].mean() - image[..., 60:80, 52:72].mean())

    capped = tfvsdk.create("blender", "classical")._match_colour(rendered, frame, mask)
    full = tfvsdk.create("blender", "classical", max_detail_gain=None)._match_colour(rendered, frame, mask)
    assert depth(capped) == pytest.approx(depth(rendered), rel=0.2)
    assert depth(full) > 1.5 * depth(rendered)
    assert slope(capped) > 1.6 * slope(rendered)
    assert slope(capped) == pytest.approx(slope(full), rel=0.15)
    with pytest.raises(tfvsdk.InputError, match="max_detail_gain"):
        tfvsdk.create("blender", "classical", max_detail_gain=0)


def test_each_frame_is_blended_as_if_alone_whatever_else_is_in_the_batch():
    """The shading's square follows each frame's own face size: a frame's output does not depend on the chunk
    it is edited in."""
    g = torch.Generator().manual_seed(3)
    masks = torch.cat([ellipse(96, 96, rx=0.3, ry=0.4), ellipse(96, 96), ellipse(96, 96, rx=0.7, ry=0.9)])
    skin = torch.tensor([1.0, 0.8, 0.7]).view(1, 3, 1, 1)
    rendered = (0.5 + 0.1 * torch.rand(3, 1, 96, 96, generator=g)) * skin * masks
    frames = (0.5 + 0.3 * torch.rand(3, 1, 96, 96, generator=g)) * skin
    blender = tfvsdk.create("blender", "classical")
    together = blender.blend(rendered, frames, frames * (1 - masks), masks)
    for i in range(3):
        alone = blender.blend(rendered[i : i + 1], frames[i : i + 1], frames[i : i + 1] * (1 - masks[i : i + 1]), masks[i : i + 1])
        torch.testing.assert_close(together[i : i + 1], alone)
