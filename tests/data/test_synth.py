"""`tfv synth`: synthetic faces in the training layout, with ground-truth fits that match the pictures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tfvsdk
from tfvsdk.data import ImageFolder, VideoFolder
from tfvsdk.data.synth import SynthConfig, Synthesizer, synthesize


def _has_builtin() -> bool:
    try:
        tfvsdk.create("model", "default")
    except tfvsdk.TfvError:
        return False
    return True


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    if not _has_builtin():
        pytest.skip("the built-in model is not available")
    root = tmp_path_factory.mktemp("synth") / "d"
    synthesize(root, SynthConfig(images=6, videos=2, frames=5, size=48, per_identity=2, seed=4))
    return root


def test_layout_and_ground_truth(synth):
    images, videos = ImageFolder(synth), VideoFolder(synth)
    assert len(images) == 6 and len(images.identities) == 3
    assert len(videos) == 2 and videos.num_frames(1) == 5
    model = tfvsdk.create("model", "default")
    assert images.manifest.model == {"name": "default", "n_id": model.n_id, "n_exp": model.n_exp}
    fit = images.fit(0)
    assert fit.image_size == (48, 48)
    projected = fit.camera.project(model.shape(fit.alpha_id, fit.alpha_exp))
    expected = model.landmarks(projected)[..., :2]
    assert torch.allclose(fit.landmarks[:, model.landmark_mask], expected, atol=1e-4)
    assert expected.min() > 0 and expected.max() < 48
    same = images.by_identity[images.identities[0]]
    assert torch.equal(images.fit(same[0]).alpha_id, images.fit(same[1]).alpha_id)
    assert not torch.equal(images.fit(same[0]).alpha_exp, images.fit(same[1]).alpha_exp)


def test_face_pixels_are_where_the_fit_renders_the_face(synth):
    """The fit is the ground truth of the picture: its rendered mask separates face from background."""
    images = ImageFolder(synth)
    model = tfvsdk.create("model", "default")
    renderer = tfvsdk.create("renderer", "raster")
    for index in range(3):
        fit, image = images.fit(index), images.image(index)
        vertices = fit.camera.project(model.shape(fit.alpha_id, fit.alpha_exp))
        mask = renderer.render(vertices, model.triangles, (48, 48)).mask[0, 0] > 0
        inner = torch.nn.functional.max_pool2d((~mask).float()[None, None], 5, 1, 2)[0, 0] == 0
        outer = torch.nn.functional.max_pool2d(mask.float()[None, None], 5, 1, 2)[0, 0] == 0
        skin = image[:, inner].mean(1)
        assert 0.1 < mask.float().mean() < 0.6
        assert skin[0] > skin[2]  # skin is redder than blue, the background is anything
        assert (image[:, inner].std(1) < image[:, outer].std(1) + 0.2).all()


def test_clips_move_smoothly_with_one_identity(synth):
    videos = VideoFolder(synth)
    fits = videos.fits(0)
    assert torch.equal(fits.alpha_id, fits.alpha_id[:1].expand_as(fits.alpha_id))
    steps = (fits.landmarks[1:] - fits.landmarks[:-1]).norm(dim=-1).nanmean((1,))
    assert (steps > 0.05).all() and (steps < 4).all(), steps
    frames = torch.stack([videos.frame(0, f) for f in range(5)])
    assert (frames[1:] - frames[:-1]).abs().mean() < 0.05


def test_same_seed_same_data_and_existing_dataset_is_not_overwritten(synth, tmp_path):
    synthesize(tmp_path / "again", SynthConfig(images=6, videos=2, frames=5, size=48, per_identity=2, seed=4))
    a = (synth / "videos" / "clip00001" / "00003.png").read_bytes()
    assert (tmp_path / "again" / "videos" / "clip00001" / "00003.png").read_bytes() == a
    with pytest.raises(tfvsdk.InputError, match="already holds a dataset"):
        synthesize(synth, SynthConfig(images=1, videos=0))


def test_sfm_faces(tmp_path, sfm_path):
    config = SynthConfig(images=2, videos=1, frames=3, size=40, model="sfm", model_config={"path": str(sfm_path)})
    manifest = synthesize(tmp_path / "sfm", config)
    assert manifest.model["name"] == "sfm_3448" and len(manifest.videos) == 1
    image = np.asarray(ImageFolder(tmp_path / "sfm").image(0))
    assert np.isfinite(image).all()


def test_rendered_pixels_stay_in_the_unit_range():
    """The brightest skin tones times a lit albedo exceed 1 before clipping; images are clipped to [0, 1]."""
    synth = Synthesizer(SynthConfig(size=32, frames=3, seed=0))
    images = torch.cat([synth.image(i)[0][None] for i in range(8)] + [synth.clip(0)[0]])
    assert images.min() >= 0 and images.max() <= 1
