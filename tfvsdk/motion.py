"""Relative head rotation: a driving face's *turns* from its rest pose, applied to another face's rest pose.

Reenactment takes the driver's head rotation as fitted (the rotation of C^p, eq. 3). When a photo is
driven by another person's video, the two heads rarely rest in the same pose: a face tilted down and turned
in its photo is turned to wherever the driver looks, 30° or more, and the texture of one photo cannot show
the sides such a turn reveals. :func:`relative_rotation` transfers the motion instead, as relative motion
does in image animation (Siarohin et al., "First Order Motion Model", 2019), and as
:mod:`tfvsdk.expression` does for the expression::

    R(t) = R_driving(t) · rest(R_driving)ᵀ · rest(R_own)

with rest(·) the rotation of the per-angle median (yaw, pitch, roll; :func:`tfvsdk.camera.euler_from_rotation`)
over the frames where a face was found (a photo's rest is its only frame). The turn ΔR = R_driving(t) ·
rest(R_driving)ᵀ is expressed in the camera's frame and applied on the left, so a driver turning 20° to
its left from its rest turns the shown face 20° to its left from its own rest.
"""

from __future__ import annotations

import attrs
import torch

from .camera import Camera, euler_from_rotation, rotation_from_euler
from .errors import InputError
from .records import FaceFit


def rest_rotation(fit: FaceFit) -> torch.Tensor:
    """(1, 3, 3) the rotation of the per-angle median (yaw, pitch, roll) of ``fit`` over the frames where a
    face was found.

    Raises:
        InputError: no frame of ``fit`` has a face.
    """
    found = fit.found_mask
    if not bool(found.any()):
        raise InputError("rest_rotation: the fit has no frame with a face")
    yaw, pitch, roll = euler_from_rotation(fit.camera.rotation[found]).median(0).values
    return rotation_from_euler(yaw[None], pitch[None], roll[None])


def relative_rotation(driving: FaceFit, own: FaceFit) -> FaceFit:
    """``driving`` with the rotation R(t) = R_driving(t) · rest(R_driving)ᵀ · rest(R_own) of the module docstring.

    Args:
        driving: the fit whose head motion drives the edit (B frames).
        own: the fit of the face that is shown (any number of frames; a photo is one).

    Returns:
        ``driving`` with only its camera's rotation changed (B, 3, 3); scale and translation are its own.

    Raises:
        InputError: either fit has no face.
    """
    turn = driving.camera.rotation @ rest_rotation(driving).transpose(1, 2)
    rotation = turn @ rest_rotation(own).to(turn)
    camera = Camera(driving.camera.scale, rotation, driving.camera.translation)
    return attrs.evolve(driving, camera=camera)
