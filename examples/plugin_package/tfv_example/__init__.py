"""tfv-example: a third-party tfvsdk plugin with a trainable blender and an editing task.

* ``unet-lite`` (blender): a small trainable encoder–decoder, :class:`~tfv_example.blender.UNetLite`.
* ``mimic`` (composer, and so the command ``tfv mimic``): the target keeps its face and pose and takes the
  driver's expression, :class:`~tfv_example.composer.Mimic`.

The package registers them through the ``tfvsdk`` entry point declared in its pyproject.toml.
"""

from __future__ import annotations

import tfvsdk

from .blender import UNetLite
from .composer import Mimic

__all__ = ["Mimic", "UNetLite"]


@tfvsdk.hookimpl
def register_blenders(register: tfvsdk.hookspecs.Register) -> None:
    register("unet-lite", UNetLite, description="small trainable encoder-decoder blender (width=16, scales=2)")


@tfvsdk.hookimpl
def register_composers(register: tfvsdk.hookspecs.Register) -> None:
    register("mimic", Mimic, description="the target's face and pose with the driver's expression")
