"""Built-in plugin: the blenders ``bsn`` (the paper's deep blending network) and ``classical`` (no weights)."""

from __future__ import annotations

import tfvsdk

from .bsn import BSNBlender
from .classical import ClassicalBlender

__all__ = ["BSNBlender", "ClassicalBlender"]


@tfvsdk.hookimpl
def register_blenders(register):
    register(
        "bsn",
        BSNBlender,
        description="deep blending network with BSN (paper §3.3): preset=small|paper, norm=bsn|adain, weights=path",
    )
    register(
        "classical",
        ClassicalBlender,
        description="colour transfer + feathered seam, no learned weights (feather=0.025)",
    )
