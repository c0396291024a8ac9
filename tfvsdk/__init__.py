"""tfvsdk: temporally consistent facial video editing (TFVGAN) as a plugin-based SDK.

The public API: the records and interfaces of the pipeline, the morphable model, the plugin system
(``hookimpl``, ``create``, ``available``) and the errors. The guide is in ``docs/``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tfvsdk")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

from .camera import Camera
from .errors import (
    InputError,
    LicenceError,
    ModelFileError,
    NoFaceError,
    OutputError,
    PluginError,
    StartupError,
    TfvError,
)
from .hookspecs import hookimpl
from .interfaces import (
    Blender,
    IdentityEmbedder,
    LandmarkDetector,
    Reconstructor,
    Renderer,
    TaskComposer,
    TrainableBlender,
)
from .morphable import MorphableModel
from .plugins import available, create
from .records import Composition, Detection, Faces, FaceFit, Rendering

__all__ = [
    "Blender",
    "Camera",
    "Composition",
    "Detection",
    "Faces",
    "FaceFit",
    "IdentityEmbedder",
    "InputError",
    "LicenceError",
    "LandmarkDetector",
    "ModelFileError",
    "MorphableModel",
    "NoFaceError",
    "OutputError",
    "PluginError",
    "Reconstructor",
    "Renderer",
    "Rendering",
    "StartupError",
    "TaskComposer",
    "TfvError",
    "TrainableBlender",
    "__version__",
    "available",
    "create",
    "hookimpl",
]
