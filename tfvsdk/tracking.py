"""Following every face through a clip: per-frame detections associated into tracks.

The rule, frame by frame (:class:`FaceTracker`):

1. **Motion.** Each track predicts its box in the new frame from its last two observations (constant
   velocity, extrapolated over the frames since it was last seen). Prediction is used for at most
   ``max_coast`` frames after the last observation; a track unseen for longer can only be re-identified.
2. **Association.** A detection and a predicted track may be paired when their boxes overlap by
   IoU ≥ ``min_iou`` and, where both have identity descriptors, the descriptors are within
   ``max_distance`` (a different person landing on a face's predicted place — a cut — is not taken for it).
   The pairing minimises the summed cost (1 − IoU) + descriptor distance (Hungarian assignment).
3. **Re-identification.** A detection left unpaired is given to the unpaired track with the nearest
   descriptor within ``max_distance`` (a face coming back after leaving, being occluded or a cut).
4. Otherwise it starts a new track.

A track's descriptor is the mean of its detections' descriptors. Descriptors cost far more than detection
(dlib's: ~50 ms per face on an idle core, 5 × that on this busy 2-core machine), so the tracker asks for one
(:meth:`FaceTracker.update` with a callable) only where motion is not conclusive: for a detection that is
not the one mutual IoU ≥ ``sure_iou`` match of a track seen in the previous frame, for a track's first
``samples`` detections, every ``refresh`` frames, and for every face after a cut (a frame that differs from
the previous one by more than ``cut_change`` on average, :func:`is_cut`). Descriptors are optional: without
them the rule is motion only. dlib's descriptor puts two photos of one person within 0.6 of each other, the
default ``max_distance``.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np
import torch

from .errors import InputError
from .records import Faces


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(M, N) intersection over union of (M, 4) and (N, 4) boxes (left, top, right, bottom)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


@attrs.frozen
class TrackingRule:
    """The thresholds of the association rule (module docstring).

    Attributes:
        min_iou: least IoU of a detection with a track's predicted box for the two to be paired by motion.
        max_distance: largest identity-descriptor distance between two views of one person.
        max_coast: frames after its last observation that a track's predicted box is still used.
        sure_iou: IoU above which a unique mutual match needs no descriptor.
        samples: descriptors a track collects before motion alone may extend it.
        refresh: frames after which a track's identity is checked again.
        cut_change: mean absolute change of a frame (values in [0, 1]) that counts as a cut.
    """

    min_iou: float = attrs.field(default=0.3, validator=attrs.validators.and_(attrs.validators.ge(0.0), attrs.validators.le(1.0)))
    max_distance: float = attrs.field(default=0.6, validator=attrs.validators.gt(0.0))
    max_coast: int = attrs.field(default=5, validator=attrs.validators.ge(0))
    sure_iou: float = attrs.field(default=0.5, validator=attrs.validators.and_(attrs.validators.ge(0.0), attrs.validators.le(1.0)))
    samples: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    refresh: int = attrs.field(default=10, validator=attrs.validators.ge(1))
    cut_change: float = attrs.field(default=0.15, validator=attrs.validators.gt(0.0))


def is_cut(previous: torch.Tensor | None, image: torch.Tensor, rule: TrackingRule) -> bool:
    """Whether ``image`` (3, H, W) starts a new shot after ``previous`` (None for the first frame)."""
    return previous is not None and float((image - previous).abs().mean()) > rule.cut_change


@attrs.frozen(eq=False)
class FaceTrack:
    """One face followed through a clip of T frames.

    Attributes:
        landmarks: (T, L, 2) landmarks in pixels; NaN in frames where the face was not found.
        boxes: (T, 4) detector boxes (left, top, right, bottom); NaN where not found.
        descriptor: (D,) mean identity descriptor of its detections (NaN when none was computed).
    """

    landmarks: np.ndarray
    boxes: np.ndarray
    descriptor: np.ndarray

    @property
    def found(self) -> np.ndarray:
        """(T,) bool: frames where the face was found."""
        return np.isfinite(self.boxes).all(-1)

    @property
    def first(self) -> int:
        """The first frame where the face was found."""
        return int(np.flatnonzero(self.found)[0])


class _Open:
    """A track being built."""

    def __init__(self) -> None:
        self.frames: list[int] = []
        self.boxes: list[np.ndarray] = []
        self.landmarks: list[np.ndarray] = []
        self.descriptors: list[np.ndarray] = []
        self.described = -1

    def add(self, frame: int, box: np.ndarray, landmarks: np.ndarray, descriptor: np.ndarray | None) -> None:
        self.frames.append(frame)
        self.boxes.append(box)
        self.landmarks.append(landmarks)
        if descriptor is not None and np.isfinite(descriptor).all():
            self.descriptors.append(descriptor)
            self.described = frame

    def predicted(self, frame: int, max_coast: int) -> np.ndarray | None:
        gap = frame - self.frames[-1]
        if gap > max_coast + 1:
            return None
        if len(self.frames) < 2:
            return self.boxes[-1]
        velocity = (self.boxes[-1] - self.boxes[-2]) / (self.frames[-1] - self.frames[-2])
        return self.boxes[-1] + velocity * gap

    def descriptor(self) -> np.ndarray | None:
        return np.mean(self.descriptors, axis=0) if self.descriptors else None


def _distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Descriptor distance, 0 when either is unknown (no identity evidence against the pairing)."""
    if a is None or b is None or not np.isfinite(b).all():
        return 0.0
    return float(np.linalg.norm(a - b))


class FaceTracker:
    """Associates each frame's faces with tracks (the rule of the module docstring); feed frames in order.

    Args:
        rule: the thresholds.

    Example:
        >>> tracker = FaceTracker()  # doctest: +SKIP
        >>> for faces, descriptors in frames: tracker.update(faces, descriptors)  # doctest: +SKIP
        >>> tracks = tracker.tracks()  # doctest: +SKIP
    """

    def __init__(self, rule: TrackingRule | None = None) -> None:
        self.rule = rule or TrackingRule()
        self._open: list[_Open] = []
        self._frames = 0
        self._size: tuple[int, int] | None = None

    def update(
        self,
        faces: Faces,
        descriptors: torch.Tensor | np.ndarray | Callable[[list[int]], torch.Tensor | np.ndarray] | None = None,
        *,
        cut: bool = False,
    ) -> list[int]:
        """Add the next frame's faces; returns the track index of each face (in ``faces`` order).

        Args:
            faces: the frame's detections.
            descriptors: (F, D) identity descriptors of the faces (NaN rows where unknown); or a function
                that returns the (len(indices), D) descriptors of the faces ``indices`` it is asked for
                (called at most once, for the faces motion does not settle); or None (motion only).
            cut: this frame starts a new shot (every face is described).
        """
        if self._size is not None and faces.image_size != self._size:
            raise InputError(f"faces: frame {self._frames} is {faces.image_size}, earlier frames {self._size}")
        self._size = faces.image_size
        boxes = faces.boxes.detach().double().cpu().numpy()
        points = faces.landmarks.detach().double().cpu().numpy()
        n = len(faces)
        frame, rule = self._frames, self.rule
        track_desc = [t.descriptor() for t in self._open]
        predicted = [(i, t.predicted(frame, rule.max_coast)) for i, t in enumerate(self._open)]
        predicted = [(i, box) for i, box in predicted if box is not None]
        iou = box_iou(np.stack([box for _, box in predicted]), boxes) if predicted and n else np.zeros((0, n))
        need = list(range(n)) if cut else [j for j in range(n) if not self._settled(iou, predicted, j)]
        desc = self._descriptors(descriptors, n, need)
        assigned = [-1] * n
        if predicted and n:
            from scipy.optimize import linear_sum_assignment  # the 'faces' extra

            dist = np.array([[_distance(track_desc[i], d) for d in desc] for i, _ in predicted]).reshape(iou.shape)
            allowed = (iou >= rule.min_iou) & (dist <= rule.max_distance)
            cost = np.where(allowed, 1.0 - iou + dist, 1e6)
            for r, c in zip(*linear_sum_assignment(cost)):
                if allowed[r, c]:
                    assigned[c] = predicted[r][0]
        free = {i for i in range(len(self._open)) if i not in assigned}
        pairs = sorted(
            (np.linalg.norm(track_desc[i] - desc[j]), i, j)
            for j in range(n) if assigned[j] < 0 and desc[j] is not None and np.isfinite(desc[j]).all()
            for i in free if track_desc[i] is not None
        )
        for d, i, j in pairs:
            if d <= rule.max_distance and i in free and assigned[j] < 0:
                assigned[j] = i
                free.discard(i)
        for j in range(n):
            if assigned[j] < 0:
                self._open.append(_Open())
                assigned[j] = len(self._open) - 1
            self._open[assigned[j]].add(frame, boxes[j], points[j], desc[j])
        self._frames += 1
        return assigned

    def _settled(self, iou: np.ndarray, predicted: list[tuple[int, np.ndarray]], j: int) -> bool:
        """Whether detection ``j`` is the sure motion match of a well-described track (needs no descriptor)."""
        rows = np.flatnonzero(iou[:, j] >= self.rule.min_iou) if len(iou) else []
        if len(rows) != 1 or iou[rows[0], j] < self.rule.sure_iou or (iou[rows[0]] >= self.rule.min_iou).sum() != 1:
            return False
        track = self._open[predicted[rows[0]][0]]
        frame = self._frames
        return track.frames[-1] == frame - 1 and len(track.descriptors) >= self.rule.samples and frame - track.described < self.rule.refresh

    @staticmethod
    def _descriptors(descriptors: object, n: int, need: list[int]) -> list[np.ndarray | None]:
        """Per face its descriptor, or None where unknown (given arrays, or the callable asked for ``need``)."""
        if descriptors is None or (callable(descriptors) and not need):
            return [None] * n
        if callable(descriptors):
            rows, wanted = descriptors(need), need
        else:
            rows, wanted = descriptors, list(range(n))
        rows = np.asarray(rows.detach().cpu() if isinstance(rows, torch.Tensor) else rows, np.float64)
        if rows.ndim != 2 or rows.shape[0] != len(wanted):
            raise InputError(f"descriptors: expected ({len(wanted)}, D) for {len(wanted)} faces, got {rows.shape}")
        out: list[np.ndarray | None] = [None] * n
        for j, row in zip(wanted, rows):
            out[j] = row
        return out

    def tracks(self) -> list[FaceTrack]:
        """The tracks so far, in the order they started, each spanning all frames fed."""
        out = []
        for t in self._open:
            landmarks = np.full((self._frames, *t.landmarks[0].shape), np.nan)
            boxes = np.full((self._frames, 4), np.nan)
            landmarks[t.frames] = np.stack(t.landmarks)
            boxes[t.frames] = np.stack(t.boxes)
            descriptor = t.descriptor()
            out.append(FaceTrack(landmarks, boxes, descriptor if descriptor is not None else np.full(1, np.nan)))
        return out
