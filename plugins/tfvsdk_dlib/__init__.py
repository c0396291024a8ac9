"""Built-in plugin: the ``dlib`` and ``dlib-cnn`` landmark detectors (68 iBUG points) and identity embedder (128-D face
descriptor); all need the ``faces`` extra."""

from __future__ import annotations

import tfvsdk

from .cnn import DlibCnnDetector
from .detector import DlibDetector
from .identity import DlibIdentityEmbedder

__all__ = ["DlibCnnDetector", "DlibDetector", "DlibIdentityEmbedder"]


@tfvsdk.hookimpl
def register_landmark_detectors(register):
    register("dlib", DlibDetector, description="dlib HOG face detector + 68-point predictor, tracked on videos (extra 'faces')")
    register("dlib-cnn", DlibCnnDetector, description="dlib CNN (MMOD) face detector for turned and small faces, slow on CPU (extra 'faces')")


@tfvsdk.hookimpl
def register_identity_embedders(register):
    register("dlib", DlibIdentityEmbedder, description="dlib's 128-D face-recognition ResNet descriptor (extra 'faces')")
