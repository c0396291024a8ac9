"""E_pose and E_exp: the pose and expression an output shows, against the source that supplied them (§4).

The paper measures E_pose as the Euclidean distance between the Euler angles of X_p^t and Y^t (estimated by
Hopenet, ref. [34]; Table 1 lists the three angles' errors) and E_exp as the Euclidean distance between the
2-D landmarks of X_e^t and Y^t (detected by MTCNN, ref. [35]). Here both sides are estimated the same way by
refitting them with any registered reconstructor (and its landmark detector), which gives:

* :func:`pose_angle_error` — the geodesic angle (:func:`rotation_angle`) between the two head rotations
  (degrees), one number per frame;
* :func:`euler_errors` — |Δ yaw|, |Δ pitch|, |Δ roll| (degrees; :meth:`tfvsdk.Camera.euler`), Table 1's triple;
* :func:`expression_distance` — ‖α_exp(Y) − α_exp(X_e)‖₂, free of the identity's face shape;
* :func:`landmark_distance` — the mean over the 68 landmarks of their Euclidean distance (pixels), the
  paper's landmark measure (it also moves with face shape, so in a swap it is not zero for a perfect result).

The source may be a single frame (a still), compared with every output frame. Frames without a face on
either side are NaN.
"""

from __future__ import annotations

import torch

from ..checks import check_tensor
from ..errors import InputError
from ..records import FaceFit

__all__ = ["euler_errors", "expression_distance", "landmark_distance", "pose_angle_error", "pose_confidence", "rotation_angle"]


def _pair(output: torch.Tensor, source: torch.Tensor, name: str) -> torch.Tensor:
    if source.shape[0] == 1:
        return source.expand_as(output)
    if source.shape != output.shape:
        raise InputError(f"{name}: expected {output.shape[0]} frames (as the output) or 1, got {source.shape[0]}")
    return source


def _found(output: FaceFit, source: FaceFit) -> torch.Tensor:
    return output.found_mask & _pair(output.found_mask, source.found_mask, "source")


def rotation_angle(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B,) geodesic angle between (B, 3, 3) rotations, degrees: ``acos((trace(aᵀ b) − 1) / 2)``, in float64."""
    check_tensor("a", a, (None, 3, 3))
    b = _pair(a, b, "b")
    cos = ((a.double().transpose(1, 2) @ b.double()).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.rad2deg(torch.acos(cos.clamp(-1, 1)))


def euler_errors(output: FaceFit, source: FaceFit) -> torch.Tensor:
    """(T, 3) absolute differences of yaw, pitch and roll (degrees, wrapped to [0, 180]); NaN rows without a face."""
    diff = torch.rad2deg(output.camera.euler().double() - _pair(output.camera.euler(), source.camera.euler(), "source").double())
    wrapped = (diff + 180) % 360 - 180
    return torch.where(_found(output, source)[:, None], wrapped.abs(), torch.nan)


def pose_angle_error(output: FaceFit, source: FaceFit) -> torch.Tensor:
    """(T,) :func:`rotation_angle` between the output's and the source's head rotations; NaN without a face."""
    angle = rotation_angle(output.camera.rotation, source.camera.rotation)
    return torch.where(_found(output, source), angle, torch.nan)


def expression_distance(output: FaceFit, source: FaceFit) -> torch.Tensor:
    """(T,) ‖α_exp(output) − α_exp(source)‖₂ (both fitted with the same model); NaN without a face."""
    if output.alpha_exp.shape[1] != source.alpha_exp.shape[1]:
        raise InputError(f"source: {source.alpha_exp.shape[1]} expression coefficients, the output has {output.alpha_exp.shape[1]}")
    distance = (output.alpha_exp.double() - _pair(output.alpha_exp, source.alpha_exp, "source").double()).norm(dim=1)
    return torch.where(_found(output, source), distance, torch.nan)


def landmark_distance(landmarks: torch.Tensor, source_landmarks: torch.Tensor) -> torch.Tensor:
    """(T,) mean Euclidean distance (pixels) between corresponding landmarks, over those finite in both.

    Args:
        landmarks: (T, L, 2) landmarks of the output, NaN where missing.
        source_landmarks: (T, L, 2) or (1, L, 2) landmarks of the expression source.

    Returns:
        (T,) distances; NaN for a frame with no landmark in common.
    """
    check_tensor("landmarks", landmarks, (None, None, 2), finite=False)
    source = _pair(landmarks, source_landmarks, "source_landmarks")
    distance = (landmarks.double() - source.double()).norm(dim=-1)
    valid = torch.isfinite(distance)
    return torch.where(valid, distance, 0.0).sum(1) / valid.sum(1)


def pose_confidence(reconstructor: object, fit: FaceFit, *, max_degrees: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame reliability of a fitted head pose: the reconstructor's posterior rotation spread.

    Args:
        reconstructor: the :class:`~tfvsdk.Reconstructor` that made ``fit`` (its
            :meth:`~tfvsdk.Reconstructor.pose_spread`; the built-in ``3ddfa`` implements it).
        fit: the fit to judge.
        max_degrees: frames whose spread exceeds this are flagged unreliable.

    Returns:
        ``(spread, unreliable)``: (T,) expected rotation error in degrees (NaN where no face) and (T,) bool,
        True where the spread exceeds ``max_degrees`` or no face was found.

    Raises:
        PluginError: the reconstructor does not estimate its pose uncertainty.
    """
    spread = reconstructor.pose_spread(fit)
    return spread, ~(spread <= max_degrees)
