"""Built-in plugin: the ``nvdiffrast`` renderer (nvdiffrast on CUDA, the SDK's own rasterizer elsewhere)."""

from __future__ import annotations

import tfvsdk

from .renderer import NvdiffrastRenderer

__all__ = ["NvdiffrastRenderer"]


@tfvsdk.hookimpl
def register_renderers(register):
    register(
        "nvdiffrast",
        NvdiffrastRenderer,
        description="rasterizer with nvdiffrast's semantics: nvdiffrast on CUDA, the SDK's numba/PyTorch kernels elsewhere",
    )
