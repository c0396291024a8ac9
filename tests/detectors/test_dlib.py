"""The ``dlib`` and ``dlib-cnn`` landmark detectors: install hint, detection on rendered faces, tracking on
videos, every face of an image (``detect_all``) and the astronaut's real face."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import tfvsdk
from tfvsdk import io
from tfvsdk.testing.contracts import check_detector

from fitting_helpers import render_face, turning_head

dlib_missing = importlib.util.find_spec("dlib") is None or importlib.util.find_spec("face_recognition_models") is None
needs_dlib = pytest.mark.skipif(dlib_missing, reason="the 'faces' extra (dlib-bin, face-recognition-models) is not installed")


def test_missing_extra_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)
    with pytest.raises(tfvsdk.PluginError, match=r"pip install 'tfvsdk\[faces\]'"):
        tfvsdk.create("detector", "dlib")


@needs_dlib
def test_missing_predictor_package_gives_the_install_hint(monkeypatch):
    import tfvsdk_dlib.detector as module

    real = importlib.util.find_spec
    monkeypatch.setattr(module.importlib.util, "find_spec", lambda name: None if name == "face_recognition_models" else real(name))
    with pytest.raises(tfvsdk.PluginError, match=r"face-recognition-models.*pip install 'tfvsdk\[faces\]'"):
        tfvsdk.create("detector", "dlib")


@needs_dlib
def test_finds_the_landmarks_of_rendered_faces(sfm):
    truth = turning_head(sfm, [0.0, 20.0, -20.0])
    images, screen = render_face(sfm, truth)
    images = torch.cat([images, torch.full((1, 3, 256, 256), 0.4)])
    det = check_detector(tfvsdk.create("detector", "dlib"), images)

    assert det.found.tolist() == [True, True, True, False]
    idx = sfm.landmark_indices
    inner = torch.arange(68) >= 17
    has = (idx >= 0) & inner
    error = (det.landmarks[:3, has] - screen[:, idx[has], :2]).norm(dim=-1)
    assert error.median() < 4.0, error.median()


@needs_dlib
def test_tracks_a_video_and_reports_frames_without_a_face(sfm, monkeypatch):
    yaws = [0, 5, 10, 15, 20, 25, 30, 35, 40, 35, 30]
    images, _ = render_face(sfm, turning_head(sfm, [float(y) for y in yaws]))
    images[5:7] = 0.4
    detector = tfvsdk.create("detector", "dlib", redetect_every=0)
    calls = []
    hog = detector._face_boxes
    monkeypatch.setattr(detector, "_face_boxes", lambda image: calls.append(1) or hog(image))

    first = detector.detect(images[:4], video=True)
    rest = detector.detect(images[4:], video=True)
    found = torch.cat([first.found, rest.found]).tolist()
    assert found == [True] * 5 + [False, False] + [True] * 4
    # one detection to start, one per faceless frame, one to pick the face up again
    assert len(calls) == 4

    calls.clear()
    detector.reset()
    detector.detect(images[7:9], video=True)
    assert len(calls) == 1
    single = detector.detect(images[7:9])
    assert torch.allclose(single.landmarks, detector.detect(images[7:9], video=False).landmarks)
    assert np.isfinite(single.landmarks.numpy()).all()


@needs_dlib
@pytest.mark.parametrize("seed, index", [(0, 0), (7, 2)])
def test_tracked_landmarks_stay_on_a_turning_face(seed, index):
    """On these clips a box derived from the previous frame's landmarks drifted off the face (mean error
    62 px) or shrank it to half its size; the tracker's box keeps tracking as accurate as detecting anew."""
    from tfvsdk.data.synth import SynthConfig, Synthesizer

    with torch.no_grad():
        images, truth = Synthesizer(SynthConfig(frames=24, size=256, seed=seed)).clip(index)
    images = (images * 255).round() / 255
    detector = tfvsdk.create("detector", "dlib")
    tracked = detector.detect(images, video=True)
    detected = detector.detect(images)

    def error(det: tfvsdk.Detection) -> torch.Tensor:
        return (det.landmarks[:, 17:] - truth.landmarks[:, 17:]).norm(dim=-1).mean(-1)

    def eye_distance(landmarks: torch.Tensor) -> torch.Tensor:
        return (landmarks[:, 36:42].mean(1) - landmarks[:, 42:48].mean(1)).norm(dim=-1)

    assert bool(tracked.found.all())
    assert error(tracked).mean() < 1.2 * error(detected)[detected.found].mean()
    assert error(tracked).max() < 10.0
    size = eye_distance(tracked.landmarks) / eye_distance(truth.landmarks)
    assert 0.8 < float(size.min()) and float(size.max()) < 1.2


ASTRONAUT = Path(__file__).resolve().parents[1] / "assets" / "astronaut_face.png"


def two_astronauts(photo: torch.Tensor) -> torch.Tensor:
    """(1, 3, 384, 640): the 256² astronaut at the top left and, right of it, the same photo 1.5 × larger."""
    large = torch.nn.functional.interpolate(photo, scale_factor=1.5, mode="bilinear", align_corners=False).clamp(0, 1)
    pair = torch.full((1, 3, 384, 640), 0.5)
    pair[..., :256, :256] = photo
    pair[..., :, 256:] = large
    return pair


def test_cnn_missing_extra_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)
    with pytest.raises(tfvsdk.PluginError, match=r"pip install 'tfvsdk\[faces\]'"):
        tfvsdk.create("detector", "dlib-cnn")


@pytest.fixture(scope="module")
def cnn():
    return tfvsdk.create("detector", "dlib-cnn")


@needs_dlib
def test_cnn_finds_the_astronaut_beside_an_empty_frame_and_agrees_with_hog(cnn):
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
def test_cnn_reports_several_faces_largest_first(cnn):
    photo = io.to_tensor([io.read_rgb(ASTRONAUT)])
    pair = two_astronauts(photo)
    faces = cnn.detect_all(pair)[0]
    assert len(faces) == 2
    sides = faces.boxes[:, 2] - faces.boxes[:, 0]
    assert sides[0] > 1.2 * sides[1] and faces.boxes[0, 0] > 256 > faces.boxes[1, 2]
    assert torch.isfinite(faces.landmarks).all() and faces.landmarks.shape == (2, 68, 2)


@needs_dlib
def test_the_main_face_is_the_largest_confident_one_not_a_larger_false_detection(monkeypatch):
    data = pytest.importorskip("skimage.data")
    import dlib

    photo = io.to_tensor([data.astronaut()])
    hog = tfvsdk.create("detector", "dlib")
    faces = hog.detect_all(photo)[0]
    assert len(faces) == 2 and faces.scores.max() > 5 * faces.scores.min()  # her face, and a weak box on the suit
    best = int(faces.scores.argmax())
    found = hog._face_boxes

    def suit_box_grown(image):  # her face wins by one pixel of width: make the suit's box the larger
        rects, scores = found(image)
        weak = int(np.argmin(scores))
        r = rects[weak]
        rects[weak] = dlib.rectangle(r.left() - 10, r.top() - 10, r.right() + 10, r.bottom() + 10)
        return rects, scores

    monkeypatch.setattr(hog, "_face_boxes", suit_box_grown)
    points = hog.detect(photo).landmarks[0]

    assert (points - faces.landmarks[best]).norm(dim=-1).max() < 1.0


@needs_dlib
def test_a_photo_with_several_confident_faces_fits_the_largest_and_says_so(caplog):
    photo = io.to_tensor([io.read_rgb(ASTRONAUT)])
    pair = two_astronauts(photo)
    detector = tfvsdk.create("detector", "dlib")

    with caplog.at_level("WARNING"):
        points = detector.detect(pair).landmarks[0]

    assert float(points[:, 0].min()) > 256
    assert "the image shows 2 faces, 2 of them scoring at least half the best; fitting the largest" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        detector.detect(photo)
    assert caplog.text == ""
