"""Lazy access to nvdiffrast.torch: imported on first use, one RasterizeCudaContext cached per device."""

from __future__ import annotations

import functools
from types import ModuleType

import torch

_contexts: dict[torch.device, object] = {}


@functools.lru_cache(maxsize=1)
def load() -> tuple[ModuleType | None, str]:
    """``(nvdiffrast.torch, "")`` when it imports, else ``(None, reason)``."""
    try:
        import nvdiffrast.torch as dr
    except Exception as exc:  # ImportError, or a broken build raising anything at import time
        return None, f"nvdiffrast is not importable ({exc!r})"
    return dr, ""


def context(device: torch.device) -> object:
    """The RasterizeCudaContext of ``device`` (created once)."""
    dr, reason = load()
    if dr is None:
        raise RuntimeError(reason)
    if device not in _contexts:
        _contexts[device] = dr.RasterizeCudaContext(device=device)
    return _contexts[device]
