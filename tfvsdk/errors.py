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


class OutputError(TfvError):
    """An output could not be written, verified or published (disk full, encoder failure, a file that
    appeared at the output path); the output path is left as it was."""


class PluginError(TfvError):
    """A plugin is unknown, misbehaves or raised; the message names the plugin.

    Attributes:
        plugin: the plugin's registered name (its entry-point name or built-in module), or None when unknown.
        kind: the kind of component involved (``blender``, ``renderer``, ...), or None.
        name: the component's registered name (or the hook's name for a failing hook), or None.
    """

    def __init__(self, message: str, *, plugin: str | None = None, kind: str | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.kind = kind
        self.name = name


class StartupError(PluginError):
    """Plugins could not be loaded (e.g. two plugins register the same component name)."""


class LicenceError(ModelFileError):
    """A model artefact's licence restricts its use and has not been accepted (``--accept-licence``)."""
