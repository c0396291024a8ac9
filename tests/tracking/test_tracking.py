"""Associating per-frame faces into tracks: crossings, faces leaving and coming back, cuts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tfvsdk import Faces, InputError
from tfvsdk.tracking import FaceTracker, TrackingRule, box_iou

SIZE = (120, 400)


def frame(boxes: list[tuple[float, float]], side: float = 40.0) -> Faces:
    """Faces of one frame with square boxes centred at ``boxes`` (x, y)."""
    centres = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 2)
    half = side / 2
    box = torch.cat([centres - half, centres + half], 1)
    landmarks = centres[:, None, :].expand(-1, 68, -1).clone()
    return Faces(landmarks, box, torch.ones(len(centres)), SIZE)


def identity(n: int) -> np.ndarray:
    """A distinct unit descriptor per person (distance √2 between two people)."""
    return np.eye(8)[n]


def test_iou_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 50, (5, 2))
    a = np.concatenate([corners, corners + rng.uniform(1, 30, (5, 2))], 1)
    b = a[::-1] + 3.0
    iou = box_iou(a, b)
    for i in range(5):
        for j in range(5):
            w = max(0.0, min(a[i, 2], b[j, 2]) - max(a[i, 0], b[j, 0]))
            h = max(0.0, min(a[i, 3], b[j, 3]) - max(a[i, 1], b[j, 1]))
            area = lambda r: (r[2] - r[0]) * (r[3] - r[1])
            assert iou[i, j] == pytest.approx(w * h / (area(a[i]) + area(b[j]) - w * h))


def test_crossing_faces_keep_their_tracks_by_motion_alone():
    tracker = FaceTracker()
    for t in range(20):
        left, right = 60 + 14 * t, 340 - 14 * t
        front = (right, 70)
        faces = [(left, 55), front] if abs(left - right) > 30 else [front]  # the front face hides the other
        tracker.update(frame(faces))
    tracks = tracker.tracks()
    assert len(tracks) == 2
    x = [(t.boxes[:, 0] + t.boxes[:, 2]) / 2 for t in tracks]
    seen = tracks[0].found
    assert seen[:9].all() and not seen[9:12].any() and seen[12:].all()
    assert np.all(np.diff(x[0][seen]) > 0) and np.all(np.diff(x[1]) < 0)


def test_a_face_that_leaves_and_comes_back_elsewhere_is_re_identified():
    tracker = FaceTracker()
    for t in range(30):
        faces, people = [(300, 60)], [1]
        if t < 8:
            faces, people = [(50 + 5 * t, 60), *faces], [0, *people]
        elif t >= 20:
            faces, people = [(150, 60), *faces], [0, *people]
        if t >= 25:
            faces, people = [*faces, (220, 60)], [*people, 2]
        tracker.update(frame(faces), np.stack([identity(p) for p in people]))
    tracks = tracker.tracks()
    assert len(tracks) == 3
    away = tracks[0].found
    assert away[:8].all() and not away[8:20].any() and away[20:].all()
    assert tracks[1].found.all()
    assert tracks[2].first == 25


def test_at_a_cut_faces_follow_their_identity_not_their_place():
    tracker = FaceTracker()
    for t in range(12):
        places = [(100, 60), (300, 60)]
        people = [0, 1] if t < 6 else [1, 0]
        tracker.update(frame(places), np.stack([identity(p) for p in people]))
    first, _ = tracker.tracks()
    centre = (first.boxes[:, 0] + first.boxes[:, 2]) / 2
    assert np.allclose(centre[:6], 100) and np.allclose(centre[6:], 300)
    assert np.allclose(first.descriptor, identity(0))


def test_without_descriptors_a_face_unseen_for_longer_than_max_coast_starts_a_new_track():
    tracker = FaceTracker(TrackingRule(max_coast=2))
    for t in range(10):
        tracker.update(frame([(100, 60)] if t < 3 or t >= 7 else []))
    assert [t.first for t in tracker.tracks()] == [0, 7]


def test_refuses_descriptors_of_another_count_and_frames_of_another_size():
    tracker = FaceTracker()
    with pytest.raises(InputError, match="descriptors"):
        tracker.update(frame([(100, 60)]), np.zeros((2, 8)))
    tracker.update(frame([(100, 60)]))
    with pytest.raises(InputError, match="frame 1"):
        tracker.update(Faces(torch.zeros(0, 68, 2), torch.zeros(0, 4), torch.zeros(0), (10, 10)))


def test_asks_for_descriptors_only_where_motion_does_not_settle_the_match():
    asked = []

    def describe(indices):
        asked.append(len(indices))
        return np.stack([identity(i) for i in indices])

    tracker = FaceTracker(TrackingRule(samples=3, refresh=10))
    for t in range(20):
        tracker.update(frame([(100 + t, 60), (300 - t, 60)]), describe, cut=t == 15)
    # the first 3 frames of each track, one refresh (frame 12), and the cut at frame 15
    assert sum(asked) == 2 * 3 + 2 + 2
    assert len(tracker.tracks()) == 2
