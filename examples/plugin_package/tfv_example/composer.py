"""``mimic``: the target keeps its identity, pose, texture and frame; only the expression is the driver's."""

from __future__ import annotations

from collections.abc import Mapping

import tfvsdk
from tfvsdk import Composition, FaceFit


class Mimic(tfvsdk.TaskComposer):
    """Expression transfer: ``tfv mimic --target T --driver D -o OUT`` (the output follows the target)."""

    roles = ("target", "driver")
    timeline_role = "target"

    def _compose(self, fits: Mapping[str, FaceFit]) -> Composition:
        target = fits["target"]
        return Composition(
            alpha_id=target.alpha_id,
            alpha_exp=fits["driver"].alpha_exp,
            camera=target.camera,
            image_size=target.image_size,
            texture_role="target",
            appearance_role="target",
            hint_role="target",
        )
