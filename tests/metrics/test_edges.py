"""Stray edges: edges of an edited face's texture that none of its sources shows where it is seen well."""

import pytest
import torch

from tfvsdk import InputError
from tfvsdk.metrics import stray_edge_map, stray_edges
from tfvsdk.morphable import load_builtin
from tfvsdk.texture_confidence import mirror_texture

S = 64


def skin(size: int = S) -> torch.Tensor:
    """(1, 3, S, S) a smooth skin texture: a soft left-to-right light gradient, no edge."""
    ramp = torch.linspace(0.45, 0.75, size).expand(size, size)
    return torch.stack([ramp * 1.1, ramp * 0.8, ramp * 0.65])[None].clamp(0, 1)


def everywhere(size: int = S) -> torch.Tensor:
    return torch.ones(1, 1, size, size)


def with_streak(texture: torch.Tensor, column: int, darker: float = 0.5) -> torch.Tensor:
    """``texture`` with a vertical dark streak 3 texels wide at ``column``, rows 16–47."""
    out = texture.clone()
    out[..., 16:48, column - 1 : column + 2] *= darker
    return out


def test_a_texture_judged_against_itself_has_no_stray_edge():
    texture = with_streak(with_streak(skin(), 20), 44, 0.7)
    assert stray_edges(texture, everywhere(), [(texture, everywhere())]).item() == 0


def test_a_streak_no_source_has_is_found_where_it_is():
    clean = skin()
    found = stray_edge_map(with_streak(clean, 30), everywhere(), [(clean, everywhere())])[0, 0]
    assert found[20:44, 27:34].any(0).sum() >= 4  # both sides of the streak, down its length
    assert found[20:44, 27:34].any(1).float().mean() >= 0.9
    assert not found[:, :24].any() and not found[:, 37:].any() and not found[:10].any() and not found[54:].any()
    share = stray_edges(with_streak(clean, 30), everywhere(), [(clean, everywhere())]).item()
    assert 0.01 < share < 0.08


def test_the_same_face_under_dimmer_light_has_no_stray_edge():
    photo = with_streak(skin(), 30)
    assert stray_edges(photo * 0.6, everywhere(), [(photo, everywhere())]).item() == 0


def test_a_contrast_raised_to_match_a_frames_light_is_not_stray_but_a_tripled_one_is():
    photo = with_streak(skin(), 30)
    log_y = torch.log(photo.mean(1, keepdim=True))

    def contrast(gain: float) -> torch.Tensor:
        return photo * torch.exp((gain - 1) * (log_y - log_y.mean()))

    assert stray_edges(contrast(1.4), everywhere(), [(photo, everywhere())]).item() == 0
    assert stray_edges(contrast(1.4), everywhere(), [(photo, everywhere())], contrast=1.0).item() > 0.01
    assert stray_edges(contrast(3.0), everywhere(), [(photo, everywhere())]).item() > 0.01


def test_a_sources_edge_explains_the_edge_within_the_tolerance_only():
    source = with_streak(skin(), 30)
    assert stray_edges(with_streak(skin(), 32), everywhere(), [(source, everywhere())], tolerance=2).item() == 0
    assert stray_edges(with_streak(skin(), 38), everywhere(), [(source, everywhere())], tolerance=2).item() > 0.01


def test_a_sources_edge_counts_only_where_that_source_is_trusted():
    source, output = with_streak(skin(), 30), with_streak(skin(), 30)
    untrusted = everywhere().clone()
    untrusted[..., :, 24:37] = 0
    assert stray_edges(output, everywhere(), [(source, everywhere())]).item() == 0
    assert stray_edges(output, everywhere(), [(source, untrusted)]).item() > 0.01


def test_only_the_texels_the_output_shows_well_are_tested():
    clean = skin()
    shown = everywhere().clone()
    shown[..., :, 24:37] = 0.2
    assert stray_edges(with_streak(clean, 30), shown, [(clean, everywhere())]).item() == 0


def test_a_feature_seen_on_the_other_side_of_the_face_is_explained_by_the_mirrored_source():
    model = load_builtin()
    source = skin(128)
    source[..., 50:56, 30:42] *= 0.4  # an "eye" on the photo's one seen side
    seen = everywhere(128).clone()
    seen[..., :, 64:] = 0  # the photo shows only that side
    output = source.clone()
    output[..., 50:56, 86:98] *= 0.4  # the completed texture has both eyes, mirrored
    inside = (mirror_texture(everywhere(128), model) > 0.5).float()  # the texels that have a mirror point
    own = [(source, seen)]
    assert stray_edge_map(output, inside, own)[..., 40:66, 80:104].sum() > 50
    mirrored = own + [(mirror_texture(source, model), mirror_texture(seen, model))]
    assert stray_edge_map(output, inside, mirrored)[..., 40:66, 80:104].sum() == 0


def test_per_frame_references_and_bad_input_are_named():
    clean = skin().expand(2, -1, -1, -1)
    frames = torch.cat([with_streak(skin(), 30), skin()])
    per_frame = stray_edges(frames, everywhere().expand(2, -1, -1, -1), [(clean, everywhere().expand(2, -1, -1, -1))])
    assert per_frame[0] > 0.01 and per_frame[1] == 0
    with pytest.raises(InputError, match="references"):
        stray_edges(frames, everywhere().expand(2, -1, -1, -1), [])
    with pytest.raises(InputError, match="references\\[0\\]"):
        stray_edges(frames, everywhere().expand(2, -1, -1, -1), [(torch.cat([clean, clean[:1]]), everywhere().expand(3, -1, -1, -1))])
    with pytest.raises(InputError, match="weight"):
        stray_edges(frames, everywhere(), [(clean, everywhere())])
    with pytest.raises(InputError, match="contrast"):
        stray_edges(frames, everywhere().expand(2, -1, -1, -1), [(clean, everywhere().expand(2, -1, -1, -1))], contrast=0.5)
