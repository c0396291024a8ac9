"""Choosing faces by number, by a reference descriptor or all of them; detectors that find every face."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tfvsdk import Detection, InputError, LandmarkDetector, NoFaceError, PluginError
from tfvsdk.faces import FaceChoice, choose_faces, confident_faces, main_face
from tfvsdk.tracking import FaceTrack


def track(xs: list[float | None], person: int) -> FaceTrack:
    """A track at centres ``xs`` (None = absent) with a unit descriptor of ``person``."""
    boxes = np.array([[x - 10, 0, x + 10, 20] if x is not None else [np.nan] * 4 for x in xs], float)
    landmarks = np.repeat(((boxes[:, :2] + boxes[:, 2:]) / 2)[:, None], 68, 1)
    return FaceTrack(landmarks, boxes, np.eye(4)[person])


TRACKS = [track([200, 190, 180], 0), track([None, 50, 60], 1), track([100, 110, 120], 2), track([300, None, None], 3)]


def test_a_face_number_counts_from_the_left_in_the_first_frame():
    assert choose_faces(TRACKS, FaceChoice(index=0)) == [TRACKS[2]]
    assert choose_faces(TRACKS, FaceChoice(index=2)) == [TRACKS[3]]


def test_a_face_number_beyond_the_first_frames_faces_names_how_many_there_are():
    with pytest.raises(InputError, match=r"3 face\(s\) in frame 0, numbered 0–2 from the left; got 3"):
        choose_faces(TRACKS, FaceChoice(index=3), source="clip.mp4")


def test_a_reference_picks_the_nearest_identity_and_all_faces_picks_every_track():
    reference = np.eye(4)[1] + 0.1
    assert choose_faces(TRACKS, FaceChoice(reference="me.jpg"), reference) == [TRACKS[1]]
    assert choose_faces(TRACKS, FaceChoice(every=True)) == TRACKS


def test_a_choice_is_one_of_the_three_and_a_clip_without_faces_is_refused():
    with pytest.raises(InputError, match="face and all_faces"):
        FaceChoice.from_options(face=1, all_faces=True)
    with pytest.raises(InputError, match="face number >= 0"):
        FaceChoice(index=-1)
    assert FaceChoice.from_options() is None
    with pytest.raises(NoFaceError, match="clip.mp4: no face"):
        choose_faces([], FaceChoice(index=0), source="clip.mp4")


class OneFace(LandmarkDetector):
    def _detect(self, images, *, video):
        return Detection(torch.full((len(images), 68, 2), 8.0), torch.ones(len(images), dtype=torch.bool), tuple(images.shape[-2:]))


class Miscounting(OneFace):
    def _detect_all(self, images):
        return []


def test_detect_all_needs_a_detector_that_finds_several_faces_and_checks_what_it_returns():
    images = torch.rand(2, 3, 16, 16)
    with pytest.raises(PluginError, match="finds one face per image"):
        OneFace().detect_all(images)
    with pytest.raises(PluginError, match="list of 2 Faces"):
        Miscounting().detect_all(images)


def test_the_main_face_is_the_largest_among_those_scoring_half_the_best():
    boxes = np.array([[0, 0, 90, 90], [200, 0, 291, 91], [300, 0, 380, 80]], float)

    assert main_face(boxes, [0.12, 1.16, 1.0]) == 1
    assert main_face(boxes, [1.16, 0.5, 1.0]) == 0
    assert main_face(boxes, [-0.3, -0.1, -0.2]) == 1
    assert confident_faces([0.12, 1.16, 0.58]).tolist() == [False, True, True]
    with pytest.raises(InputError, match=r"main_face: expected \(F, 4\) boxes"):
        main_face(np.zeros((0, 4)), [])
