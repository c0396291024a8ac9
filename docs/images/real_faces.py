"""Real-face sources and measures for docs/images/make_real_faces_figure.py (not part of the package).

Photos: scikit-image's astronaut (Eileen Collins, NASA, public domain), Grace Hopper's US Navy portrait
(public domain; ``tests/assets/grace_hopper.jpg``, from matplotlib's sample data) and, when present, photos a
user keeps under
``$TFV_FACES`` (default /work/cache/faces; never committed — their licences are not public domain).
A target *video* is made from a photo by a smooth similarity motion (rotation, zoom and shift of the crop),
as no real face video of usable size ships in any reachable package.

D is the Euclidean distance between dlib's 128-D face descriptors (< 0.6 = same person), computed as
``tests/editing/test_swap_fidelity.py`` does.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

FACES = Path(os.environ.get("TFV_FACES", "/work/cache/faces"))
HOPPER = Path(__file__).resolve().parents[2] / "tests" / "assets" / "grace_hopper.jpg"


def _load_dlib():
    import dlib
    from tfvsdk_dlib.detector import default_predictor_path

    predictor = default_predictor_path()
    network = predictor.with_name("dlib_face_recognition_resnet_model_v1.dat")
    return dlib, dlib.get_frontal_face_detector(), dlib.shape_predictor(str(predictor)), dlib.face_recognition_model_v1(str(network))


_DLIB = None


def dlib_models():
    global _DLIB
    if _DLIB is None:
        _DLIB = _load_dlib()
    return _DLIB


def photos() -> dict[str, np.ndarray]:
    """Name → (H, W, 3) uint8 photo holding one or more faces."""
    import skimage.data
    from PIL import Image

    out = {"astronaut": skimage.data.astronaut(), "hopper": np.asarray(Image.open(HOPPER).convert("RGB"))}
    for name in ("t1.jpg", "Tom_Hanks_54745.png"):
        if (FACES / name).is_file():
            out[Path(name).stem.lower()] = np.asarray(Image.open(FACES / name).convert("RGB"))
    return out


def face_boxes(image: np.ndarray) -> list[tuple[float, float, float]]:
    """(centre x, centre y, side) of each HOG face box, left to right (largest ones; the suit's false hit on
    the astronaut is the smaller one and dropped by the caller's pick)."""
    _, detector, _, _ = dlib_models()
    rects = detector(image, 1)
    boxes = [((r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2, float(r.width())) for r in rects]
    return sorted(boxes)


def similarity_clip(image: np.ndarray, box: tuple[float, float, float], size: int = 256, frames: int = 48,
                    zoom: float = 2.4, rotation: float = 0.0) -> np.ndarray:
    """(frames, size, size, 3) uint8: a square crop of side ``zoom`` × the box side around the face, moved by a
    smooth similarity motion (±6° roll, ±5 % zoom, ±4 % shift) plus a constant ``rotation`` in degrees."""
    import cv2

    cx, cy, side = box
    cy -= 0.1 * side
    out = []
    for t in np.linspace(0, 1, frames):
        angle = rotation + 6 * math.sin(2 * math.pi * t)
        scale = size / (zoom * side) * (1 + 0.05 * math.sin(math.pi * t))
        shift = 0.04 * size * np.array([math.sin(2 * math.pi * t + 1), math.cos(2 * math.pi * t)])
        matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
        matrix[:, 2] += size / 2 + shift - np.array([cx, cy])
        out.append(cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT))
    return np.stack(out)


def descriptors(frames: np.ndarray) -> np.ndarray:
    """(F, 128) dlib descriptors of the largest face of each frame; NaN rows where no face is found."""
    _, detector, predictor, network = dlib_models()
    out = np.full((len(frames), 128), np.nan)
    for i, frame in enumerate(frames):
        frame = np.ascontiguousarray(frame)
        rects = detector(frame, 1)
        if len(rects) == 0:
            continue
        rect = max(rects, key=lambda r: r.width() * r.height())
        out[i] = np.array(network.compute_face_descriptor(frame, predictor(frame, rect)))
    return out
