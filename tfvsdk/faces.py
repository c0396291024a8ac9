"""Several faces in a video: track every detected face through the clip and choose which one to edit.

:func:`track_faces` links per-frame face boxes into tracks: each frame's boxes are matched greedily (best
score first) to the tracks alive, by the overlap (IoU) of the box with the track's box *predicted* at that
frame (last box moved by the track's last per-frame velocity), and a track missing for up to ``max_gap``
frames stays alive — so two faces that cross, or one hidden for a moment, keep their identities, and a face
that leaves ends its track while a face that enters starts a new one.

A face is chosen by :func:`choose_track`: by position (the N-th from the left among the faces of the first
frame where any is seen) or by identity (the track whose descriptor is nearest a reference photo's).
:func:`track_landmarks` then gives the (frames, 68, 2) landmarks of that face alone — NaN where it is not
in the frame — which the :class:`~tfvsdk.editor.Editor` takes instead of detecting (``landmarks=``), so the
other faces pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import attrs
import numpy as np

from . import io
from .errors import InputError, NoFaceError, PluginError


@attrs.frozen(eq=False)
class FaceTrack:
    """One face followed through a clip.

    Attributes:
        boxes: (frames, 4) (left, top, right, bottom) in pixels, NaN in frames where the face is not seen.
    """

    boxes: np.ndarray

    @property
    def frames(self) -> np.ndarray:
        """Indices of the frames where the face is seen."""
        return np.flatnonzero(~np.isnan(self.boxes[:, 0]))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def track_faces(boxes: Sequence[np.ndarray], *, min_iou: float = 0.2, max_gap: int = 12) -> list[FaceTrack]:
    """Link per-frame face boxes into tracks (see the module docstring).

    Args:
        boxes: per frame, a (K, 4) array of (left, top, right, bottom) boxes (K may be 0).
        min_iou: smallest overlap with a track's predicted box for a box to continue that track.
        max_gap: frames a track may go unseen and still be continued.

    Returns:
        The tracks, in the order they start (then left to right).
    """
    n = len(boxes)
    tracks: list[np.ndarray] = []
    state: list[dict] = []  # per track: last box, velocity, last frame
    for t, frame_boxes in enumerate(boxes):
        frame_boxes = np.asarray(frame_boxes, np.float64).reshape(-1, 4)
        alive = [i for i, s in enumerate(state) if t - s["frame"] <= max_gap + 1]
        pairs = []
        for i in alive:
            s = state[i]
            predicted = s["box"] + s["velocity"] * (t - s["frame"])
            pairs += [(_iou(predicted, box), i, j) for j, box in enumerate(frame_boxes)]
        used_tracks, used_boxes = set(), set()
        for score, i, j in sorted(pairs, reverse=True):
            if score < min_iou or i in used_tracks or j in used_boxes:
                continue
            s = state[i]
            s["velocity"] = (frame_boxes[j] - s["box"]) / (t - s["frame"])
            s["box"], s["frame"] = frame_boxes[j], t
            tracks[i][t] = frame_boxes[j]
            used_tracks.add(i)
            used_boxes.add(j)
        for j in sorted(set(range(len(frame_boxes))) - used_boxes, key=lambda j: frame_boxes[j][0]):
            track = np.full((n, 4), np.nan)
            track[t] = frame_boxes[j]
            tracks.append(track)
            state.append({"box": frame_boxes[j], "velocity": np.zeros(4), "frame": t})
    return [FaceTrack(track) for track in tracks]


def choose_track(
    tracks: Sequence[FaceTrack],
    *,
    face: int | None = None,
    reference: np.ndarray | None = None,
    describe: Callable[[FaceTrack], np.ndarray] | None = None,
    name: str = "video",
) -> FaceTrack:
    """The track to edit: the ``face``-th from the left (0 = leftmost) among those seen in the first frame
    that shows any face, or the one whose ``describe(track)`` descriptor is nearest the ``reference``
    descriptor.

    Raises:
        NoFaceError: no track at all.
        InputError: neither or both criteria, or ``face`` beyond the number of faces.
    """
    if not tracks:
        raise NoFaceError(f"{name}: no face found")
    if (face is None) == (reference is None):
        raise InputError("choose a face either by position (face=N) or by a reference descriptor, not both")
    if face is not None:
        first = min(int(track.frames[0]) for track in tracks)
        present = sorted((track for track in tracks if not np.isnan(track.boxes[first, 0])), key=lambda tr: tr.boxes[first, 0])
        if not 0 <= face < len(present):
            raise InputError(f"{name}: face {face} asked for, but frame {first} shows {len(present)} face(s) (0 = leftmost)")
        return present[face]
    if describe is None:
        raise InputError("choose_track: a reference descriptor needs describe=")
    distances = [float(np.linalg.norm(describe(track) - reference)) for track in tracks]
    return tracks[int(np.argmin(distances))]


def track_landmarks(frames: Iterable[np.ndarray], track: FaceTrack, landmarks_at: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """(frames, 68, 2) landmarks of one tracked face: ``landmarks_at(frame, box)`` in the frames where the
    track has a box, NaN elsewhere."""
    out = np.full((len(track.boxes), 68, 2), np.nan)
    for t, frame in enumerate(frames):
        if t < len(track.boxes) and not np.isnan(track.boxes[t, 0]):
            out[t] = landmarks_at(frame, track.boxes[t])
    return out


def _check_detector(detector: object, *methods: str) -> None:
    missing = [m for m in methods if not callable(getattr(detector, m, None))]
    if missing:
        raise PluginError(f"{type(detector).__name__}: choosing among several faces needs a detector with {', '.join(missing)}()")


def video_tracks(path: str, detector: object, **config: float) -> list[FaceTrack]:
    """:func:`track_faces` of every face ``detector.detect_boxes`` finds in each frame of an image or video."""
    _check_detector(detector, "detect_boxes")
    return track_faces([detector.detect_boxes(frame) for frame in io.iter_frames(path)], **config)


def face_landmarks(path: str, detector: object, *, face: int | None = None, reference: str | None = None) -> np.ndarray:
    """(frames, 68, 2) landmarks of one face of a video: the ``face``-th from the left in the first frame, or
    the face nearest the identity in the photo ``reference``; NaN in frames without that face."""
    _check_detector(detector, "detect_boxes", "landmarks_at", *(("describe",) if reference is not None else ()))
    tracks = video_tracks(path, detector)
    describe = None
    wanted = None
    if reference is not None:
        photo = io.read_rgb(reference)
        boxes = detector.detect_boxes(photo)
        if len(boxes) == 0:
            raise NoFaceError(f"{reference}: no face found")
        largest = boxes[np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))]
        wanted = detector.describe(photo, largest)
        frames = list(io.iter_frames(path))

        def describe(track: FaceTrack) -> np.ndarray:
            seen = track.frames[:: max(1, len(track.frames) // 5)][:5]
            return np.mean([detector.describe(frames[t], track.boxes[t]) for t in seen], 0)

    chosen = choose_track(tracks, face=face, reference=wanted, describe=describe, name=str(path))
    return track_landmarks(io.iter_frames(path), chosen, detector.landmarks_at)


def every_face_landmarks(path: str, detector: object) -> list[np.ndarray]:
    """:func:`track_landmarks` of every face track of a video, in the order the tracks start."""
    _check_detector(detector, "detect_boxes", "landmarks_at")
    return [track_landmarks(io.iter_frames(path), track, detector.landmarks_at) for track in video_tracks(path, detector)]
