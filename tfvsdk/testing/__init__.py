"""Test helpers for plugin authors: hypothesis strategies and contract checks for each interface.

Example (in a third-party plugin's test suite)::

    from hypothesis import given
    from tfvsdk.testing import check_renderer, cameras

    def test_my_renderer_keeps_the_contract():
        check_renderer(MyRenderer())
"""

from .contracts import check_blender, check_composer, check_detector, check_reconstructor, check_renderer
from .strategies import cameras, coefficients, face_fits, meshes

__all__ = [
    "cameras",
    "check_blender",
    "check_composer",
    "check_detector",
    "check_reconstructor",
    "check_renderer",
    "coefficients",
    "face_fits",
    "meshes",
]
