"""Choosing which faces of a video an edit changes: ``--face N``, ``--face-ref PHOTO`` or ``--all-faces``.

:func:`scan_faces` detects every face of every frame (a detector's :meth:`~tfvsdk.LandmarkDetector.detect_all`),
describes each with an identity embedder and follows them through the clip (:mod:`tfvsdk.tracking`);
:func:`choose_faces` then picks tracks by :class:`FaceChoice`. The editor fits and edits each chosen track
on its own and leaves every pixel outside the chosen faces' masks as it was. Where a chosen face passes
behind a face that was not chosen, the other face's region (:func:`face_regions`) is kept as well, so
the rendered face never covers it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import attrs
import numpy as np
import torch

from . import io
from .errors import InputError, NoFaceError
from .interfaces import IdentityEmbedder, LandmarkDetector
from .records import Detection, Faces
from .tracking import FaceTrack, FaceTracker, TrackingRule, is_cut

logger = logging.getLogger(__name__)


def _check_index(instance: FaceChoice, attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InputError(f"face: expected a face number >= 0 (left to right in the first frame), got {value!r}")


@attrs.frozen
class FaceChoice:
    """Which faces of the edited video to change: exactly one of the three.

    Attributes:
        index: the N-th face from the left (0 = leftmost) among those of the first frame that has a face.
        reference: a photo of the person: the track whose mean identity descriptor is nearest to the
            photo's (its main face, :func:`main_face`).
        every: every face found in the clip.
    """

    index: int | None = attrs.field(default=None, validator=_check_index)
    reference: Path | None = attrs.field(default=None, converter=attrs.converters.optional(Path))
    every: bool = attrs.field(default=False)

    @every.validator
    def _one(self, attribute: attrs.Attribute, value: bool) -> None:
        given = [name for name, v in (("face", self.index), ("face_ref", self.reference)) if v is not None]
        given += ["all_faces"] if value else []
        if len(given) > 1:
            raise InputError(f"{' and '.join(given)}: choose the faces one way only")

    @classmethod
    def from_options(cls, face: int | None = None, face_ref: str | os.PathLike | None = None, all_faces: bool = False) -> FaceChoice | None:
        """The choice the ``--face`` / ``--face-ref`` / ``--all-faces`` options make, or None for none of them."""
        if face is None and face_ref is None and not all_faces:
            return None
        return cls(face, face_ref, bool(all_faces))


MAIN_FACE_SCORE_SHARE = 0.5


def confident_faces(scores: np.ndarray | torch.Tensor) -> np.ndarray:
    """(F,) bool: the detections scoring at least :data:`MAIN_FACE_SCORE_SHARE` of the best of (F,) detector
    scores (higher = more confident); all of them when no score is positive."""
    scores = np.asarray(scores, np.float64)
    best = scores.max(initial=0.0)
    return scores >= MAIN_FACE_SCORE_SHARE * best if best > 0 else np.ones(scores.shape, bool)


def main_face(boxes: np.ndarray | torch.Tensor, scores: np.ndarray | torch.Tensor) -> int:
    """Index of the face an edit uses when no face is chosen: the largest box among the confident detections
    (:func:`confident_faces`).

    Size alone lets a weak false detection win by a pixel (on scikit-image's astronaut dlib's HOG scores her
    face 1.16 at 91 px and her suit 0.12 at 90 px), and picks a turned face that is a poor identity over a
    frontal one a little smaller (insightface's t1.jpg: 0.65 at 130 px against 2.77).

    Args:
        boxes: (F, 4) boxes (left, top, right, bottom), F >= 1.
        scores: (F,) detector scores.
    """
    boxes, scores = np.asarray(boxes, np.float64), np.asarray(scores, np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0 or scores.shape != (len(boxes),):
        raise InputError(f"main_face: expected (F, 4) boxes and (F,) scores with F >= 1, got {boxes.shape} and {scores.shape}")
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return int(np.where(confident_faces(scores), area, -np.inf).argmax())


def describe_faces(embedder: IdentityEmbedder, image: torch.Tensor, faces: Faces) -> torch.Tensor:
    """(F, D) identity descriptors of the faces of one (3, H, W) image (NaN rows where the embedder fails)."""
    if len(faces) == 0:
        return torch.zeros(0, embedder.dim)
    detection = Detection(faces.landmarks, torch.ones(len(faces), dtype=torch.bool), faces.image_size)
    return embedder.embed(image[None].expand(len(faces), -1, -1, -1), detection=detection).cpu()


def scan_faces(
    path: str | os.PathLike,
    detector: LandmarkDetector,
    embedder: IdentityEmbedder,
    *,
    rule: TrackingRule | None = None,
) -> list[FaceTrack]:
    """Every face of an image or video, followed through its frames.

    Args:
        path: the image or video.
        detector: finds all faces of a frame (``detect_all``).
        embedder: describes each face for re-identification.
        rule: the association thresholds.

    Returns:
        The tracks, in the order they first appear (each spans every frame; NaN where absent).
    """
    tracker = FaceTracker(rule)
    previous = None
    for frame in io.iter_frames(path):
        image = io.to_tensor([frame])[0]
        faces = detector.detect_all(image[None])[0]

        def describe(indices: list[int], image: torch.Tensor = image, faces: Faces = faces) -> torch.Tensor:
            return describe_faces(embedder, image, _subset(faces, indices))

        tracker.update(faces, describe, cut=is_cut(previous, image, tracker.rule))
        previous = image
    return tracker.tracks()


def _subset(faces: Faces, indices: list[int]) -> Faces:
    keep = torch.as_tensor(indices, dtype=torch.long)
    return Faces(faces.landmarks[keep], faces.boxes[keep], faces.scores[keep], faces.image_size)


def reference_descriptor(path: str | os.PathLike, detector: LandmarkDetector, embedder: IdentityEmbedder) -> np.ndarray:
    """(D,) identity descriptor of the main face (:func:`main_face`) of a photo (the first frame of a video).

    Raises:
        NoFaceError: no face found.
    """
    frame = next(io.iter_frames(path, check_complete=False))
    image = io.to_tensor([frame])[0]
    faces = detector.detect_all(image[None])[0]
    if len(faces) == 0:
        raise NoFaceError(f"{path}: no face found in the face reference")
    main = main_face(faces.boxes.numpy(), faces.scores.numpy())
    descriptor = describe_faces(embedder, image, _subset(faces, [main]))[0].double().numpy()
    if not np.isfinite(descriptor).all():
        raise NoFaceError(f"{path}: the identity embedder could not describe the face reference")
    return descriptor


def choose_faces(
    tracks: list[FaceTrack], choice: FaceChoice, reference: np.ndarray | None = None, *, source: str = "video", option: str = "face"
) -> list[FaceTrack]:
    """The tracks ``choice`` selects.

    Args:
        tracks: the clip's tracks (:func:`scan_faces`).
        choice: how to choose.
        reference: the reference photo's descriptor (:func:`reference_descriptor`); needed for ``reference``.
        source: the clip's name for messages.
        option: the name of the face number in messages (``face``; the editor's ``source_faces[role]``).

    Raises:
        NoFaceError: the clip has no face.
        InputError: ``index`` beyond the faces of the first frame with faces.
    """
    if not tracks:
        raise NoFaceError(f"{source}: no face found in any frame")
    if choice.every:
        return list(tracks)
    if choice.index is not None:
        start = min(t.first for t in tracks)
        present = [t for t in tracks if t.found[start]]
        present.sort(key=lambda t: float(t.boxes[start, 0] + t.boxes[start, 2]))
        if choice.index >= len(present):
            raise InputError(f"{option}: {source} shows {len(present)} face(s) in frame {start}, numbered 0–{len(present) - 1} from the left; got {choice.index}")
        return [present[choice.index]]
    if reference is None:
        raise InputError("face_ref: the reference photo's descriptor is needed to choose by identity")
    distances = [float(np.linalg.norm(t.descriptor - reference)) if np.isfinite(t.descriptor).all() else np.inf for t in tracks]
    best = int(np.argmin(distances))
    if not np.isfinite(distances[best]):
        raise NoFaceError(f"{source}: no face could be described to compare with {choice.reference}")
    logger.info("%s: face %d of %d is nearest to %s (descriptor distance %.3f)", source, best, len(tracks), choice.reference, distances[best])
    if distances[best] > TrackingRule().max_distance:
        logger.warning("%s: the face nearest to %s is %.2f away (> %.2f): it may be another person", source, choice.reference, distances[best], TrackingRule().max_distance)
    return [tracks[best]]


def face_regions(landmarks: np.ndarray, size: tuple[int, int], *, forehead: float = 0.4) -> torch.Tensor:
    """(B, 1, H, W) masks of the faces given by (B, 68, 2) iBUG landmarks (pixels; NaN rows = no face).

    The region is the convex hull of the landmarks together with the eyebrows raised by ``forehead`` × the
    distance from the nose bridge (27) to the chin (8): the landmarks stop at the brows, the face does not.
    A pixel belongs to it when its centre (x + 0.5, y + 0.5) is inside the hull.
    """
    from scipy.spatial import ConvexHull  # the 'faces' extra

    h, w = size
    ys, xs = np.mgrid[0:h, 0:w]
    centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], 1)
    out = np.zeros((len(landmarks), 1, h, w), np.float32)
    for i, points in enumerate(np.asarray(landmarks, np.float64)):
        if not np.isfinite(points).all():
            continue
        up = points[27] - points[8]
        hull = ConvexHull(np.concatenate([points, points[17:27] + forehead * up]))
        inside = (centres @ hull.equations[:, :2].T + hull.equations[:, 2] <= 0).all(1)
        out[i, 0] = inside.reshape(h, w)
    return torch.from_numpy(out)
