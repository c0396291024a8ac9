"""A reenacted head turns away from where the photo's face was: the photo's own eyes, nose and mouth that the
new face leaves uncovered are filled with the skin around them, not left beside the new ones."""

from __future__ import annotations

import math

import pytest
import torch

import tfvsdk
from tfvsdk.data.synth import SynthConfig, Synthesizer, backgrounds
from tfvsdk.uncovered import fill_uncovered_features

SIZE = 160


@pytest.fixture(scope="module")
def synth() -> Synthesizer:
    torch.set_num_threads(1)
    return Synthesizer(SynthConfig(size=SIZE))


def photo(synth: Synthesizer, yaw: float):
    """A synthetic photo (1, 3, SIZE, SIZE) of a head at ``yaw`` degrees, its screen-space mesh and mask."""
    model, renderer = synth.model, tfvsdk.create("renderer", "raster")
    g = torch.Generator().manual_seed(2)
    camera = synth.cameras(torch.tensor([[math.radians(yaw), 0.0, 0.0]]), torch.tensor([0.6]), torch.zeros(1, 2))
    fit = tfvsdk.FaceFit(torch.randn(1, model.n_id, generator=g).clamp(-2, 2), torch.zeros(1, model.n_exp), camera, (SIZE, SIZE))
    image = synth.render(fit, torch.tensor([[0.85, 0.65, 0.55]]), torch.tensor([[0.3, 0.2, 0.9, 0.5]]), backgrounds(1, SIZE, g))
    own = tfvsdk.morphable.vertices(model, fit)
    return image, own, renderer.render(own, model.triangles, (SIZE, SIZE)).mask, renderer


def test_the_photos_own_features_left_uncovered_take_the_skin_around_them(synth):
    model = synth.model
    image, own, own_mask, renderer = photo(synth, 30.0)
    mask = torch.zeros_like(own_mask)
    mask[..., 45:] = own_mask[..., :-45]  # the new face lies 45 px to the right of the old one

    out = fill_uncovered_features(image, own, mask, model, renderer)

    landmarks = model.landmarks(own)[0, 17:, :2].round().long()  # brows, nose, eyes, mouth
    outside = mask[0, 0, landmarks[:, 1], landmarks[:, 0]] == 0
    assert int(outside.sum()) >= 3, "the turn leaves some of the photo's features outside the new face"
    cheek = model.landmarks(own)[0, [2, 31], :2].mean(0).round().long()  # skin between jaw and nose
    skin = image[0, :, cheek[1], cheek[0]]
    before = (image[0][:, landmarks[outside, 1], landmarks[outside, 0]] - skin[:, None]).abs().mean()
    after = (out[0][:, landmarks[outside, 1], landmarks[outside, 0]] - skin[:, None]).abs().mean()
    assert float(after) < 0.5 * float(before)
    inside = -torch.nn.functional.max_pool2d(-mask, 7, stride=1, padding=3) > 0.5
    assert torch.equal(out.masked_select(inside), image.masked_select(inside)), "what the new face covers is untouched"
    assert torch.equal(out[..., :8, :], image[..., :8, :]), "so is everything away from the old face"


def test_nothing_changes_when_the_new_face_covers_the_old_one(synth):
    image, own, own_mask, renderer = photo(synth, 20.0)

    assert torch.equal(fill_uncovered_features(image, own, own_mask, synth.model, renderer), image)


def test_a_still_repeated_over_a_clip_is_filled_as_each_frame_alone(synth):
    image, own, own_mask, renderer = photo(synth, 30.0)
    masks = torch.zeros(2, *own_mask.shape[1:])
    masks[0, ..., 45:] = own_mask[0, ..., :-45]
    masks[1, ..., :-40] = own_mask[0, ..., 40:]

    together = fill_uncovered_features(image.expand(2, -1, -1, -1), own.expand(2, -1, -1), masks, synth.model, renderer)

    for k in range(2):
        alone = fill_uncovered_features(image, own, masks[k : k + 1], synth.model, renderer)
        assert torch.allclose(together[k : k + 1], alone, atol=1e-6)
    assert not torch.allclose(together[0], together[1])
