"""`tfv prepare`: detect, crop, fit and cache; corrupt inputs are listed and skipped; clips split at gaps."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import torch

import tfvsdk
from tfvsdk.camera import Camera
from tfvsdk.data import ImageFolder, VideoFolder
from tfvsdk.data.prepare import crop, crop_box, prepare, to_crop
from tfvsdk.records import Detection, FaceFit


class SquareDetector(tfvsdk.LandmarkDetector):
    """'Detects' the bright square of a test image: 68 landmarks around its border."""

    def detect(self, images, *, video=False):
        b, _, h, w = images.shape
        marks = torch.full((b, 68, 2), float("nan"))
        found = torch.zeros(b, dtype=torch.bool)
        for i in range(b):
            ys, xs = torch.nonzero(images[i].mean(0) > 0.9, as_tuple=True)
            if len(xs):
                x0, x1, y0, y1 = xs.min() + 0.5, xs.max() + 0.5, ys.min() + 0.5, ys.max() + 0.5
                s = torch.linspace(0, 1, 17)
                sides = [torch.stack([x0 + s * (x1 - x0), torch.full_like(s, y0)], -1), torch.stack([torch.full_like(s, x1), y0 + s * (y1 - y0)], -1),
                         torch.stack([x1 - s * (x1 - x0), torch.full_like(s, y1)], -1), torch.stack([torch.full_like(s, x0), y1 - s * (y1 - y0)], -1)]
                marks[i] = torch.cat(sides)
                found[i] = True
        return Detection(marks, found, (h, w))


class CentroidReconstructor(tfvsdk.Reconstructor):
    """Fits nothing: zero coefficients, the camera at the landmarks' centroid."""

    def __init__(self):
        self._model = tfvsdk.MorphableModel(torch.rand(3, 3), torch.rand(9, 2), torch.rand(9, 1), torch.tensor([[0, 1, 2]]), name="toy")
        self.calls = []

    @property
    def model(self):
        return self._model

    def fit(self, images, *, clip=False, detection=None):
        self.calls.append((images.shape[0], clip))
        b = images.shape[0]
        centre = detection.landmarks.nanmean(1)
        camera = Camera(torch.ones(b), torch.eye(3).expand(b, 3, 3).clone(), centre)
        return FaceFit(torch.zeros(b, 2), torch.zeros(b, 1), camera, images.shape[-2:], landmarks=detection.landmarks, found=detection.found)


def square(h, w, x, y, side, value=1.0):
    image = np.full((h, w, 3), 40, np.uint8)
    image[y : y + side, x : x + side] = int(value * 255)
    return image


def test_crop_box_and_crop_agree_with_landmarks():
    image = torch.from_numpy(square(100, 120, 30, 20, 40)).permute(2, 0, 1)[None].float() / 255
    marks = SquareDetector().detect(image).landmarks
    box = crop_box(marks, crop_scale=1.5, crop_shift=0.0)
    assert torch.allclose(box, torch.tensor([[50.0, 40.0, 58.5]]), atol=1e-4)
    out = crop(image, box, 39)
    inside = to_crop(marks, box, 39)
    assert inside.min() > 0 and inside.max() < 39
    assert out[0, :, 19, 19].min() > 0.9 and out[0, :, 1, 1].max() < 0.2


def test_prepare_images_skips_corrupt_and_faceless_files(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    iio.imwrite(src / "a.png", square(80, 100, 20, 10, 30))
    iio.imwrite(src / "sub" / "b.jpg", square(90, 90, 40, 30, 36), quality=95)
    iio.imwrite(src / "noface.png", np.zeros((50, 50, 3), np.uint8))
    (src / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    reconstructor = CentroidReconstructor()
    manifest = prepare(src, out, kind="images", detector=SquareDetector(), reconstructor=reconstructor, size=32)
    assert sorted((e.identity, e.name) for e in manifest.images) == [("a", "000"), ("sub-b", "000")]
    reasons = {item["path"].split("/")[-1]: item["reason"] for item in manifest.skipped}
    assert set(reasons) == {"noface.png", "corrupt.png"}
    assert "no face" in reasons["noface.png"] and "not a readable image" in reasons["corrupt.png"]
    images = ImageFolder(out)
    assert images.image(0).shape == (3, 32, 32) and images.fit(0).image_size == (32, 32)
    assert images.image(0)[:, 16, 16].min() > 0.9
    assert manifest.model == {"name": "toy", "n_id": 2, "n_exp": 1}
    # run again: nothing is prepared twice
    calls = len(reconstructor.calls)
    again = prepare(src, out, kind="images", detector=SquareDetector(), reconstructor=reconstructor, size=32)
    assert len(again.images) == 2 and len(reconstructor.calls) == calls


def test_prepare_videos_splits_clips_at_frames_without_a_face(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    (src / "spk1" / "clip1").mkdir(parents=True)
    for i in range(5):
        frame = square(60, 60, 10 + i, 12, 24) if i != 2 else np.zeros((60, 60, 3), np.uint8)
        iio.imwrite(src / "spk1" / "clip1" / f"{i:03d}.png", frame)
    iio.imwrite(src / "spk2.mp4", np.stack([square(64, 64, 10 + 2 * i, 16, 24) for i in range(6)]), fps=25, codec="libx264", macro_block_size=16)
    (src / "bad.mp4").write_text("not a video")
    reconstructor = CentroidReconstructor()
    manifest = prepare(src, out, kind="videos", detector=SquareDetector(), reconstructor=reconstructor, size=32, identity="folder")
    clips = {c.clip: c for c in manifest.videos}
    assert set(clips) == {"spk1-clip1-s0", "spk1-clip1-s1", "spk2"}
    assert len(clips["spk1-clip1-s0"].frames) == 2 and len(clips["spk2"].frames) == 6
    assert clips["spk1-clip1-s1"].identity == "spk1"
    assert [item["path"].split("/")[-1] for item in manifest.skipped] == ["bad.mp4"]
    videos = VideoFolder(out)
    k = [c.clip for c in videos.clips].index("spk2")
    fits = videos.fits(k)
    assert fits.batch_size == 6 and all(clip for _, clip in reconstructor.calls)
    # one crop for the whole clip: the square moves right by 2 px per frame in the source
    shift = fits.camera.translation[1:, 0] - fits.camera.translation[:-1, 0]
    assert torch.allclose(shift, torch.full_like(shift, shift.mean()), atol=0.6) and shift.mean() > 0


def test_prepare_into_a_dataset_of_another_size_is_refused(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    iio.imwrite(src / "a.png", square(80, 100, 20, 10, 30))
    prepare(src, tmp_path / "out", kind="images", detector=SquareDetector(), reconstructor=CentroidReconstructor(), size=32)
    with pytest.raises(tfvsdk.InputError, match="another folder"):
        prepare(src, tmp_path / "out", kind="images", detector=SquareDetector(), reconstructor=CentroidReconstructor(), size=48)


@pytest.mark.parametrize(("setting", "message"), [
    ({"size": 0}, "size: expected an integer > 0, got 0"),
    ({"crop_scale": -1.0}, "crop_scale: expected a value > 0, got -1.0"),
    ({"crop_shift": float("nan")}, "crop_shift: expected a finite number"),
    ({"max_frames": -1}, "max_frames: expected an integer ≥ 0, got -1"),
    ({"batch_size": 0}, "batch_size: expected an integer > 0"),
])
def test_settings_out_of_range_are_refused_before_any_input_is_read(tmp_path, setting, message):
    src = tmp_path / "src"
    src.mkdir()
    iio.imwrite(src / "a.png", square(80, 100, 20, 10, 30))
    with pytest.raises(tfvsdk.InputError, match=message):
        prepare(src, tmp_path / "out", kind="images", detector=SquareDetector(), reconstructor=CentroidReconstructor(), **setting)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("option", "value"), [("--size", "0"), ("--crop-scale", "-1"), ("--max-frames", "-1")])
def test_tfv_prepare_names_the_flag_out_of_range(tmp_path, capsys, option, value):
    from tfvsdk.cli import main

    src = tmp_path / "src"
    src.mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main(["prepare", str(src), str(tmp_path / "out"), "--kind", "images", option, value])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"Error: Invalid value for '{option}'")
