"""Built-in plugin: the ``dlib`` landmark detector (68 iBUG points; needs the ``faces`` extra)."""

from __future__ import annotations

import tfvsdk

from .detector import DlibCnnDetector, DlibDetector

__all__ = ["DlibCnnDetector", "DlibDetector"]


@tfvsdk.hookimpl
def register_landmark_detectors(register):
    register("dlib", DlibDetector, description="dlib HOG face detector + 68-point predictor, tracked on videos (extra 'faces')")
    register("dlib-cnn", DlibCnnDetector, description="dlib CNN (MMOD) face detector + 68-point predictor: turned and small faces, slow on CPU (extra 'faces')")
