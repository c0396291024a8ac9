"""The ``dlib`` landmark detector: dlib's HOG face detector and its 68-point shape predictor (iBUG order).

Needs the ``faces`` extra (``pip install 'tfvsdk[faces]'``): the ``dlib`` module of the ``dlib-bin`` wheel and
the predictor file shipped by ``face-recognition-models``. That package's ``__init__`` imports
``pkg_resources`` (gone from current setuptools), so its folder is located with
``importlib.util.find_spec`` without importing it.

On a video (``video=True``) the face is detected on the first frame and then tracked: each frame's box is
the previous frame's landmarks' bounding box mapped to the detector's box geometry (calibrated on the last
detection), which keeps profiles the HOG detector misses. Tracking counts as lost when dlib's correlation
tracker, following the face's appearance, loses confidence (peak-to-sidelobe ratio below ``min_psr``: a
cut, an occlusion, the face leaving the frame) or when the landmarks jump (their box moves or resizes by
more than ``max_jump`` of its size); the detector then runs again, and also every ``redetect_every``
frames to correct drift. A frame with no face is reported with ``found`` False and NaN landmarks.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tfvsdk import Detection, Faces, InputError, LandmarkDetector, PluginError
from tfvsdk.faces import confident_faces, main_face

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'tfvsdk[faces]'"
PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:
        raise PluginError(f"the 'dlib' landmark detector needs the 'faces' extra ({exc}); install it with: {INSTALL_HINT}") from None
    return dlib


def default_predictor_path() -> Path:
    """The 68-point predictor of the ``face-recognition-models`` package (located without importing it)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise PluginError(f"the 'dlib' landmark detector needs the face-recognition-models package; install it with: {INSTALL_HINT}")
    path = Path(spec.submodule_search_locations[0]) / "models" / PREDICTOR_FILE
    if not path.is_file():
        raise PluginError(f"{path}: the 68-point predictor is missing; reinstall with: {INSTALL_HINT}")
    return path


def packaged_file(name: str, what: str) -> Path:
    """The file ``name`` of the ``face-recognition-models`` package (beside the 68-point predictor).

    Raises:
        PluginError: the file is missing (``what`` names it), with the install hint.
    """
    path = default_predictor_path().with_name(name)
    if not path.is_file():
        raise PluginError(f"{path}: {what} is missing; reinstall with: {INSTALL_HINT}")
    return path


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray((image.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy())


def _edges(rects: list[Any]) -> np.ndarray:
    """(F, 4) pixel-edge boxes (left, top, right + 1, bottom + 1) of dlib rectangles (inclusive corners)."""
    return np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects], np.float64).reshape(-1, 4)


def _bounds(points: np.ndarray) -> np.ndarray:
    """(left, top, right, bottom) of (68, 2) points."""
    return np.concatenate([points.min(0), points.max(0)])


class DlibDetector(LandmarkDetector):
    """68 iBUG landmarks with dlib (HOG detection, regression-tree shape predictor, box tracking on videos).

    On videos the first face found is followed by dlib's correlation tracker, whose box (position and scale,
    in the detector's box convention) is what the shape predictor reads on the next frame; a box derived from
    the previous landmarks instead feeds the predictor's own error back and drifts (measured: faces shrinking
    to half their size within 24 frames of a head turn).

    Args:
        predictor: path of a dlib 68-point shape predictor; default: the one of ``face-recognition-models``.
        upsample: times the HOG detector upsamples the image (1 finds faces down to ~40 px).
        max_jump: tracking is lost when the landmarks' box moves or resizes by more than this fraction of
            its size between frames.
        min_psr: tracking is lost when the correlation tracker's peak-to-sidelobe ratio drops below this
            (dlib's rule of thumb: 7).
        redetect_every: run the face detector every this many tracked frames (0 = only when lost).

    Raises:
        PluginError: dlib or the predictor file is missing (with the install hint).
    """

    def __init__(
        self,
        *,
        predictor: str | os.PathLike | None = None,
        upsample: int = 1,
        max_jump: float = 0.35,
        min_psr: float = 7.0,
        redetect_every: int = 30,
    ) -> None:
        dlib = _import_dlib()
        path = Path(predictor) if predictor is not None else default_predictor_path()
        if not path.is_file():
            raise InputError(f"predictor: {path} is not a file")
        if int(upsample) < 0 or int(redetect_every) < 0 or not max_jump > 0:
            raise InputError("upsample and redetect_every must be >= 0 and max_jump > 0")
        self._dlib = dlib
        self._faces = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(path))
        self.upsample = int(upsample)
        self.max_jump = float(max_jump)
        self.min_psr = float(min_psr)
        self.redetect_every = int(redetect_every)
        self.reset()

    def reset(self) -> None:
        self._previous: np.ndarray | None = None
        self._tracker: Any = None
        self._since_detection = 0

    def _landmarks(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        rect = self._dlib.rectangle(*(int(round(v)) for v in box))
        shape = self._shape(image, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], np.float64)

    def _face_boxes(self, image: np.ndarray) -> tuple[list[Any], list[float]]:
        """The face rectangles (dlib ``rectangle``) the HOG detector finds in an (H, W, 3) uint8 image, and
        their SVM scores."""
        rects, scores, _ = self._faces.run(image, self.upsample, 0.0)
        return list(rects), [float(s) for s in scores]

    def _find_face(self, image: np.ndarray, *, warn: bool = False) -> np.ndarray | None:
        """Landmarks (68, 2) of the main face (:func:`tfvsdk.faces.main_face`) the face detector finds (pixel
        indices), or None. With ``warn``, an image with several confident faces is logged as a warning."""
        rects, scores = self._face_boxes(image)
        if len(rects) == 0:
            return None
        boxes = _edges(rects)
        main = main_face(boxes, scores)
        rect = rects[main]
        confident = int(confident_faces(scores).sum())
        if warn and confident > 1:
            x0, y0, x1, y1 = boxes[main].astype(int)
            logger.warning("the image shows %d faces, %d of them scoring at least half the best; fitting the largest of those "
                           "(box x %d-%d, y %d-%d, score %.2f). To fit another, choose it by number (source_faces / --source-face "
                           "ROLE=N, 0 = leftmost), crop the photo, or give its landmarks.",
                           len(rects), confident, x0, x1, y0, y1, scores[main])
        self._tracker = self._dlib.correlation_tracker()
        self._tracker.start_track(image, rect)
        self._since_detection = 0
        return self._landmarks(image, boxes[main] - [0, 0, 1, 1])

    def _track(self, image: np.ndarray) -> np.ndarray | None:
        if self._tracker.update(image) < self.min_psr:
            return None
        pos = self._tracker.get_position()
        box = np.array([pos.left(), pos.top(), pos.right(), pos.bottom()], np.float64)
        points = self._landmarks(image, box)
        lb, nb = _bounds(self._previous), _bounds(points)
        size = np.maximum(lb[2:] - lb[:2], 1.0)
        new_size = np.maximum(nb[2:] - nb[:2], 1.0)
        moved = np.abs((nb[:2] + nb[2:]) / 2 - (lb[:2] + lb[2:]) / 2) / size
        resized = np.abs(new_size / size - 1)
        if moved.max() > self.max_jump or resized.max() > self.max_jump:
            return None
        self._since_detection += 1
        return points

    def _one(self, image: np.ndarray, video: bool) -> np.ndarray | None:
        if not video or self._previous is None or self._tracker is None:
            return self._find_face(image, warn=not video)
        if self.redetect_every and self._since_detection >= self.redetect_every:
            points = self._find_face(image)
            if points is not None:
                return points
        points = self._track(image)
        return points if points is not None else self._find_face(image)

    def _detect(self, images: torch.Tensor, *, video: bool) -> Detection:
        """Landmarks of (B, 3, H, W) images in [0, 1], in pixels (centres at +0.5); NaN where no face.

        With ``video=True`` the images are consecutive frames, continuing the previous call's clip (until
        :meth:`reset`).
        """
        out = np.full((images.shape[0], 68, 2), np.nan)
        for i, image in enumerate(images):
            points = self._one(_to_uint8(image), video)
            if points is not None:
                out[i] = points + 0.5
            if video:
                self._previous = points
        landmarks = torch.from_numpy(out).to(images.dtype)
        found = torch.from_numpy(~np.isnan(out).any(-1).any(-1))
        return Detection(landmarks, found, tuple(images.shape[-2:]))

    def _detect_all(self, images: torch.Tensor) -> list[Faces]:
        """Every face of each image: the face detector's boxes, largest first, each with its 68 landmarks
        (pixels, centres at +0.5). Boxes are in pixel-edge coordinates (dlib's corners, right/bottom + 1)."""
        out = []
        for image in images:
            pixels = _to_uint8(image)
            rects, scores = self._face_boxes(pixels)
            order = sorted(range(len(rects)), key=lambda i: -rects[i].width() * rects[i].height())
            boxes = _edges([rects[i] for i in order])
            points = [self._landmarks(pixels, box - [0, 0, 1, 1]) + 0.5 for box in boxes]
            out.append(Faces(
                torch.from_numpy(np.array(points, np.float64).reshape(len(order), 68, 2)).to(images.dtype),
                torch.from_numpy(boxes.reshape(len(order), 4)).to(images.dtype),
                torch.tensor([scores[i] for i in order], dtype=images.dtype),
                tuple(images.shape[-2:]),
            ))
        return out
