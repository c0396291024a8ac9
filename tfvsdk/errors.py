"""The SDK's error hierarchy.

Every error raised on purpose by tfvsdk derives from :class:`TfvError`, so a caller can catch the SDK's
errors in one place. Messages name the offending thing and say what was expected, e.g.
``"identity.mp4: no face found in frames 0-11"``.
"""

from __future__ import annotations


class TfvError(Exception):
    """Base class of every error raised on purpose by tfvsdk."""


class InputError(TfvError, ValueError):
    """An input (tensor, array, file, option) does not have the expected shape, type or content."""


class NoFaceError(InputError):
    """No face could be found in an image or in some frames of a video."""


class ModelFileError(TfvError):
    """A model or weights file is missing, unreadable, unsafe or inconsistent."""


class PluginError(TfvError):
    """A plugin is unknown, misbehaves or raised; the message names the plugin."""


class StartupError(PluginError):
    """Plugins could not be loaded (e.g. two plugins register the same component name)."""


class LicenceError(ModelFileError):
    """A model artefact's licence restricts its use and has not been accepted (``--accept-licence``)."""
