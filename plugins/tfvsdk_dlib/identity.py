"""The ``dlib`` identity embedder: dlib's 128-D face descriptor (a ResNet trained for face recognition).

The network file ``dlib_face_recognition_resnet_model_v1.dat`` ships with ``face-recognition-models`` (the
``faces`` extra), beside the 68-point predictor. dlib aligns the face from its 68 landmarks (a 150 × 150
chip) before the network runs, so the landmarks come from the ``dlib`` detector (tracked on videos) unless
a :class:`~tfvsdk.Detection` is given. dlib states that two descriptors of the same person are usually
within a Euclidean distance of 0.6 (descriptors have norm ≈ 1).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tfvsdk import Detection, IdentityEmbedder, InputError, LandmarkDetector
from tfvsdk.checks import check_range, check_tensor

from .detector import DlibDetector, _import_dlib, _to_uint8, packaged_file

NETWORK_FILE = "dlib_face_recognition_resnet_model_v1.dat"


def default_network_path() -> Path:
    """The face-recognition network of the ``face-recognition-models`` package."""
    return packaged_file(NETWORK_FILE, "dlib's face-recognition network")


class DlibIdentityEmbedder(IdentityEmbedder):
    """128-D identity vectors from dlib's face-recognition ResNet.

    Args:
        network: path of ``dlib_face_recognition_resnet_model_v1.dat``; default: the one of
            ``face-recognition-models``.
        detector: the landmark detector that aligns faces when no detection is given (an instance or a
            name for ``tfvsdk.create("detector", name)``; default: dlib's).
        jitter: dlib's ``num_jitters``: average over this many randomly jittered chips (0 = the chip once;
            the default, deterministic).

    Raises:
        PluginError: dlib or the network file is missing (with the install hint).
    """

    dim = 128

    def __init__(self, *, network: str | os.PathLike | None = None, detector: str | LandmarkDetector | None = None, jitter: int = 0) -> None:
        dlib = _import_dlib()
        path = Path(network) if network is not None else default_network_path()
        if not path.is_file():
            raise InputError(f"network: {path} is not a file")
        if int(jitter) < 0:
            raise InputError(f"jitter: expected >= 0, got {jitter}")
        self._dlib = dlib
        self._network = dlib.face_recognition_model_v1(str(path))
        self._detector_spec = detector
        self._detector: LandmarkDetector | None = detector if isinstance(detector, LandmarkDetector) else None
        self.jitter = int(jitter)

    @property
    def detector(self) -> LandmarkDetector:
        if self._detector is None:
            if self._detector_spec is None:
                self._detector = DlibDetector()
            else:
                import tfvsdk

                self._detector = tfvsdk.create("detector", self._detector_spec)
        return self._detector

    def _shape(self, points: np.ndarray) -> Any:
        """A dlib full_object_detection of (68, 2) pixel-centre landmarks (dlib's points are pixel indices)."""
        d = self._dlib
        corners = np.concatenate([points.min(0), points.max(0)]).round().astype(int)
        return d.full_object_detection(d.rectangle(*corners.tolist()), [d.point(int(round(x)), int(round(y))) for x, y in points])

    def embed(self, images: torch.Tensor, *, detection: Detection | None = None, video: bool = False) -> torch.Tensor:
        """(B, 128) descriptors of (B, 3, H, W) images in [0, 1]; NaN rows where no face is found.

        Args:
            images: the images.
            detection: their 68 landmarks (pixels, centres at +0.5); detected when not given.
            video: the images are consecutive frames (the detector tracks the face).
        """
        check_tensor("images", images, (None, 3, None, None))
        check_range("images", images, 0.0, 1.0)
        if detection is None:
            if video:
                self.detector.reset()
            detection = self.detector.detect(images, video=video)
        if detection.landmarks.shape[:2] != (images.shape[0], 68):
            raise InputError(f"detection: expected ({images.shape[0]}, 68, 2) landmarks, got {tuple(detection.landmarks.shape)}")
        landmarks = detection.landmarks.detach().double().cpu().numpy() - 0.5
        out = torch.full((images.shape[0], self.dim), float("nan"), dtype=torch.float64)
        for i, image in enumerate(images):
            if bool(detection.found[i]) and np.isfinite(landmarks[i]).all():
                chip = self._shape(landmarks[i])
                out[i] = torch.tensor(list(self._network.compute_face_descriptor(_to_uint8(image), chip, self.jitter)))
        return out.to(images.dtype if images.is_floating_point() else torch.float32).to(images.device)
