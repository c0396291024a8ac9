"""The ``dlib-cnn`` landmark detector: dlib's CNN face detector (max-margin object detection, MMOD) in front
of the same 68-point shape predictor and video tracking as the ``dlib`` detector.

The MMOD network finds turned faces (yaw up to 90°) that the HOG detector misses past 45°, and with
``upsample=1`` small ones too (bench/detectors.py measures recall against yaw), but it is slow on a CPU:
about 1.9 s per 256² image with no upsampling and 7.6 s with one, against 0.09 s for HOG, on this project's
2-core machine. On a video it runs only where the ``dlib``
detector would detect (the first frame, a lost track, every ``redetect_every`` frames); the frames between
are tracked. The network file ``mmod_human_face_detector.dat`` ships with ``face-recognition-models``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from tfvsdk import InputError

from .detector import DlibDetector, packaged_file

NETWORK_FILE = "mmod_human_face_detector.dat"


def default_cnn_path() -> Path:
    """The MMOD face-detection network of the ``face-recognition-models`` package."""
    return packaged_file(NETWORK_FILE, "dlib's CNN face detector")


class DlibCnnDetector(DlibDetector):
    """68 iBUG landmarks with dlib's CNN (MMOD) face detector, the 68-point predictor and box tracking.

    Args:
        network: path of ``mmod_human_face_detector.dat``; default: the one of ``face-recognition-models``.
        upsample: times the image is upsampled before detection (0 finds faces down to ~80 px, 1 to ~40 px,
            at four times the cost).
        min_confidence: faces whose MMOD score is below this are dropped (dlib reports detections from 0).
        **kwargs: ``predictor``, ``max_jump``, ``min_psr``, ``redetect_every`` as for the ``dlib`` detector.

    Raises:
        PluginError: dlib or a network file is missing (with the install hint).
    """

    def __init__(self, *, network: str | os.PathLike | None = None, upsample: int = 0, min_confidence: float = 0.0, **kwargs: Any) -> None:
        super().__init__(upsample=upsample, **kwargs)
        path = Path(network) if network is not None else default_cnn_path()
        if not path.is_file():
            raise InputError(f"network: {path} is not a file")
        self._cnn = self._dlib.cnn_face_detection_model_v1(str(path))
        self.min_confidence = float(min_confidence)

    def _face_boxes(self, image: np.ndarray) -> tuple[list[Any], list[float]]:
        """The MMOD detections of an (H, W, 3) uint8 image at or above ``min_confidence``, and their scores."""
        found = [d for d in self._cnn(image, self.upsample) if d.confidence >= self.min_confidence]
        return [d.rect for d in found], [float(d.confidence) for d in found]
