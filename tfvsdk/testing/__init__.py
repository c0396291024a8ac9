"""Test helpers for plugin authors: contract checks for each interface and hypothesis strategies.

The contract checks need only tfvsdk; the strategies (``cameras``, ``coefficients``, ``face_fits``,
``meshes``) need hypothesis (``pip install 'tfvsdk[testing]'``) and are imported when first used.

Example (in a third-party plugin's test suite)::

    from tfvsdk.testing import check_renderer

    def test_my_renderer_keeps_the_contract():
        check_renderer(MyRenderer())
"""

from __future__ import annotations

import importlib
from typing import Any

from .contracts import (
    check_blender,
    check_composer,
    check_detector,
    check_reconstructor,
    check_renderer,
    check_trainable_blender,
)

_STRATEGIES = ("cameras", "coefficients", "face_fits", "meshes")

__all__ = [
    "cameras",
    "check_blender",
    "check_composer",
    "check_detector",
    "check_reconstructor",
    "check_renderer",
    "check_trainable_blender",
    "coefficients",
    "face_fits",
    "meshes",
]


def __getattr__(name: str) -> Any:
    if name in _STRATEGIES:
        try:
            strategies = importlib.import_module(".strategies", __name__)
        except ImportError as exc:
            raise ImportError(f"tfvsdk.testing.{name} needs hypothesis: pip install 'tfvsdk[testing]' ({exc})") from exc
        return getattr(strategies, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
