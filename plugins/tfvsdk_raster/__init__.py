"""Built-in plugin: the ``raster`` renderer (the SDK's own rasterizer; nvdiffrast on CUDA when installed).

``nvdiffrast`` is its deprecated former name.
"""

from __future__ import annotations

import tfvsdk

from .renderer import NvdiffrastRenderer, RasterRenderer

__all__ = ["NvdiffrastRenderer", "RasterRenderer"]


@tfvsdk.hookimpl
def register_renderers(register):
    register(
        "raster",
        RasterRenderer,
        description="rasterizer with nvdiffrast's semantics: the SDK's numba/PyTorch kernels, nvdiffrast on CUDA (backend=auto|torch|cuda)",
        aliases=("nvdiffrast",),
    )
