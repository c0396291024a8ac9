"""Built-in plugin: the three editing tasks of the paper as composers (eq. 2 and the hint rules of §3.2).

Each composer only *chooses* which source supplies identity, expression, pose, texture and appearance; the
model, renderer and blender do the computing.

| task | identity α_id | expression α_exp | pose C | texture T | appearance X_p and hint M |
|---|---|---|---|---|---|
| swap | identity | target | target | identity | target: M = X_target (1 − M̂) |
| reenact | source | driver | driver's rotation, source's placement | source | source: M = X_source (1 − M̂) |
| remix | identity | expression | pose | identity | pose: M = X_pose (1 − M̂) |

Reenactment and remix take the driving expression as fitted (eq. 3), or with ``expression="relative"`` its
changes on the shown face's own rest expression (:mod:`tfvsdk.expression`). Reenactment takes the driver's
head rotation as fitted, or with ``pose="relative"`` its turns from its rest on the source's own rest pose
(:mod:`tfvsdk.motion`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import ClassVar

import attrs

import tfvsdk
from tfvsdk import Composition, FaceFit, InputError, TaskComposer
from tfvsdk.expression import relative_expression
from tfvsdk.metrics.pose import rotation_angle
from tfvsdk.motion import relative_rotation, rest_rotation

EXPRESSION_TRANSFERS = ("absolute", "relative")
POSE_TRANSFERS = ("absolute", "relative")
TURN_WARNING_DEGREES = 20.0
"""Rest poses of a reenactment's source and driver further apart than this are warned about (``pose=None``)."""

logger = logging.getLogger(__name__)


class _ChoosingComposer(TaskComposer):
    """A composer defined by a table: which role supplies each part of the :class:`Composition`."""

    identity_from: ClassVar[str]
    expression_from: ClassVar[str]
    pose_from: ClassVar[str]
    texture_from: ClassVar[str]
    appearance_from: ClassVar[str]

    @property
    def edited_role(self) -> str:
        return self.appearance_from

    def _compose(self, fits: Mapping[str, FaceFit]) -> Composition:
        pose = fits[self.pose_from]
        return Composition(
            alpha_id=fits[self.identity_from].alpha_id,
            alpha_exp=fits[self.expression_from].alpha_exp,
            camera=pose.camera,
            image_size=pose.image_size,
            texture_role=self.texture_from,
            appearance_role=self.appearance_from,
            hint_role=self.appearance_from,
        )


class _TransferringComposer(_ChoosingComposer):
    """A composer that shows one person with another's expression: absolutely or relatively transferred."""

    def __init__(self, expression: str = "absolute") -> None:
        if expression not in EXPRESSION_TRANSFERS:
            raise InputError(f"expression: expected one of {EXPRESSION_TRANSFERS}, got {expression!r}")
        self.expression = expression

    def _prepare(self, fits: dict[str, FaceFit]) -> dict[str, FaceFit]:
        if self.expression == "relative":
            fits[self.expression_from] = relative_expression(fits[self.expression_from], fits[self.identity_from])
        return fits


class Swap(_ChoosingComposer):
    """Face swap: the identity of ``identity`` on every frame of ``target`` (§4.1, X_e = X_p)."""

    roles = ("identity", "target")
    timeline_role = "target"
    identity_from, expression_from, pose_from = "identity", "target", "target"
    texture_from, appearance_from = "identity", "target"


class Reenact(_TransferringComposer):
    """Reenactment: ``source``'s face and appearance driven by ``driver``'s pose and expression (§4.1).

    The output shows the source's frames, so by default the driver supplies the head's *rotation* and the
    source keeps the face's *placement* (weak-perspective scale and 2-D translation): the head turns where it
    is instead of jumping to where the driver's head is in a different picture. ``placement="driver"`` takes
    the whole camera C^p from the driver, the literal reading of eq. 3.

    Args:
        placement: ``"source"`` or ``"driver"``: whose scale and translation the rendered face takes.
        expression: ``"absolute"``: the driver's fitted α_exp (eq. 3); ``"relative"``: its changes from the
            driver's rest on the source's rest expression (:func:`tfvsdk.expression.relative_expression`).
        pose: ``"absolute"``: the driver's fitted head rotation (eq. 3); ``"relative"``: its turns from the
            driver's rest pose on the source's rest pose (:func:`tfvsdk.motion.relative_rotation`), so a photo
            keeps its own pose while the driver rests; None (the default): absolute, with a warning (once)
            when the two rest poses are more than ``TURN_WARNING_DEGREES`` apart.
    """

    roles = ("source", "driver")
    timeline_role = "driver"
    identity_from, expression_from, pose_from = "source", "driver", "driver"
    texture_from, appearance_from = "source", "source"

    def __init__(self, placement: str = "source", expression: str = "absolute", pose: str | None = None) -> None:
        super().__init__(expression)
        if placement not in ("source", "driver"):
            raise InputError(f"placement: expected 'source' or 'driver', got {placement!r}")
        if pose is not None and pose not in POSE_TRANSFERS:
            raise InputError(f"pose: expected one of {POSE_TRANSFERS}, got {pose!r}")
        self.placement = placement
        self.pose = pose or "absolute"
        self._warn = pose is None

    def _prepare(self, fits: dict[str, FaceFit]) -> dict[str, FaceFit]:
        if self._warn and all(bool(f.found_mask.any()) for f in fits.values()):
            apart = float(rotation_angle(rest_rotation(fits["driver"]), rest_rotation(fits["source"]).to(fits["driver"].camera.rotation))[0])
            if apart > TURN_WARNING_DEGREES:
                self._warn = False
                logger.warning(
                    "reenact: the driver's head rests %.0f° from the source's; with pose='absolute' the source's face is "
                    "turned that far, and the sides a turn reveals are not in its texture. --opt composer.pose=relative "
                    "keeps the source's own pose and transfers the driver's turns", apart,
                )
        fits = super()._prepare(fits)
        if self.pose == "relative":
            fits["driver"] = relative_rotation(fits["driver"], fits["source"])
        return fits

    def _compose(self, fits: Mapping[str, FaceFit]) -> Composition:
        composition = super()._compose(fits)
        if self.placement == "driver":
            return composition
        source, driver = fits["source"].camera, fits["driver"].camera
        camera = tfvsdk.Camera(source.scale, driver.rotation, source.translation)
        return attrs.evolve(composition, camera=camera, image_size=fits["source"].image_size)


class Remix(_TransferringComposer):
    """Fully disentangled manipulation: identity, pose and expression from three sources (§4.1, Fig. 6).

    Args:
        expression: ``"absolute"``: the expression source's fitted α_exp (eq. 3); ``"relative"``: its changes
            from its rest on the identity's rest expression (:func:`tfvsdk.expression.relative_expression`).
    """

    roles = ("identity", "pose", "expression")
    timeline_role = "pose"
    identity_from, expression_from, pose_from = "identity", "expression", "pose"
    texture_from, appearance_from = "identity", "pose"


@tfvsdk.hookimpl
def register_composers(register):
    register("swap", Swap, description="identity of one face onto another video")
    register("reenact", Reenact, description="a face driven by another's pose and expression")
    register("remix", Remix, description="identity, pose and expression from three sources")
