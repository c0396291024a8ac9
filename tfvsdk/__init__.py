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

import importlib
from typing import TYPE_CHECKING, Any

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

_LAZY = {
    "Camera": ".camera",
    "Blender": ".interfaces",
    "IdentityEmbedder": ".interfaces",
    "LandmarkDetector": ".interfaces",
    "Reconstructor": ".interfaces",
    "Renderer": ".interfaces",
    "TaskComposer": ".interfaces",
    "TrainableBlender": ".interfaces",
    "MorphableModel": ".morphable",
    "available": ".plugins",
    "create": ".plugins",
    "Composition": ".records",
    "Detection": ".records",
    "Faces": ".records",
    "FaceFit": ".records",
    "Rendering": ".records",
}
"""Names whose modules import torch, loaded on first use: ``import tfvsdk`` stays light, so that the ``tfv``
command can configure OpenMP before torch loads it (:mod:`tfvsdk.threads`)."""

if TYPE_CHECKING:
    from .camera import Camera
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


def __getattr__(name: str) -> Any:
    """A lazy name of :data:`_LAZY`, or a submodule (``tfvsdk.io`` after a bare ``import tfvsdk``)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif name.startswith("__"):
        raise AttributeError(f"module 'tfvsdk' has no attribute {name!r}")
    else:
        try:
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'tfvsdk' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

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
