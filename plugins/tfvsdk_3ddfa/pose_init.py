"""A closed-form starting pose: the affine camera that best maps model points to landmarks, made weak-perspective.

Least squares gives the 2×4 affine camera [M | c] with (x, −y) ≈ M X + c (the y flip of screen space, see
:mod:`tfvsdk.camera`); the nearest matrix with orthonormal rows to M (from its SVD, M = U Σ Vᵀ → U Vᵀ) gives
the first two rows of R, their cross product the third (so det R = +1), the mean singular value the scale.
This is the "Gold Standard" affine camera estimate followed by the usual projection onto scaled-orthographic
cameras (Hartley & Zisserman, §7.3; eos' ``estimate_orthographic_projection_linear`` does the same).
"""

from __future__ import annotations

import torch


def initial_pose(
    points: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weak-perspective pose from 3-D/2-D correspondences.

    Args:
        points: (B, L, 3) model points.
        targets: (B, L, 2) image landmarks in pixels (any finite value where ``weight`` is 0).
        weight: (B, L) 1 for correspondences to use, 0 otherwise; a frame needs 4 non-coplanar ones.

    Returns:
        ``(rotation, log_scale, translation)``: (B, 3, 3), (B,), (B, 2).
    """
    ones = torch.ones_like(points[..., :1])
    design = torch.cat([points, ones], -1) * weight[..., None]
    observed = targets * targets.new_tensor([1.0, -1.0]) * weight[..., None]
    normal = design.transpose(1, 2) @ design
    ridge = 1e-9 * torch.diagonal(normal, dim1=-2, dim2=-1).mean(-1).clamp_min(1e-12)
    normal = normal + ridge[:, None, None] * torch.eye(4, dtype=normal.dtype, device=normal.device)
    affine = torch.linalg.solve(normal, design.transpose(1, 2) @ observed)
    m = affine[:, :3].transpose(1, 2)
    u, sv, vh = torch.linalg.svd(m, full_matrices=False)
    rows = u @ vh
    rotation = torch.cat([rows, torch.linalg.cross(rows[:, 0], rows[:, 1])[:, None]], 1)
    scale = sv.mean(-1).clamp_min(1e-12)
    total = weight.sum(1).clamp_min(1e-12)
    centre_x = (points * weight[..., None]).sum(1) / total[:, None]
    centre_y = (targets * weight[..., None]).sum(1) / total[:, None]
    rotated = centre_x[:, None] @ rotation.transpose(1, 2)
    flip = targets.new_tensor([1.0, -1.0])
    translation = centre_y - scale[:, None] * rotated[:, 0, :2] * flip
    return rotation, scale.log(), translation


def pose_for_rotation(
    points: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor, rotation: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and offset of a weak-perspective camera with a given rotation, by weighted least squares.

    With p = the first two coordinates of R X, y-flipped (screen space, :mod:`tfvsdk.camera`), the
    minimiser of Σ w ‖s p + t − y‖² is s = Σ w ⟨p − p̄, y − ȳ⟩ / Σ w ‖p − p̄‖² and t = ȳ − s p̄ (weighted
    means p̄, ȳ).

    Args:
        points: (B, L, 3) model points.
        targets: (B, L, 2) image landmarks in pixels.
        weight: (B, L) 1 for correspondences to use, 0 otherwise.
        rotation: (B, 3, 3) head rotations.

    Returns:
        ``(log_scale, translation)``: (B,) and (B, 2).
    """
    flip = targets.new_tensor([1.0, -1.0])
    projected = (points @ rotation.transpose(1, 2))[..., :2] * flip
    w = weight[..., None]
    total = weight.sum(1).clamp_min(1e-12)[:, None]
    p_mean = (projected * w).sum(1) / total
    y_mean = (targets * w).sum(1) / total
    p_c, y_c = projected - p_mean[:, None], targets - y_mean[:, None]
    scale = ((p_c * y_c * w).sum((1, 2)) / (p_c.square() * w).sum((1, 2)).clamp_min(1e-12)).clamp_min(1e-12)
    return scale.log(), y_mean - scale[:, None] * p_mean
