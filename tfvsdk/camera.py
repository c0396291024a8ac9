"""The weak-perspective camera of the paper (§3.2): scale, rotation and 2-D translation.

Model space is right-handed, +x the subject's left, +y up, +z toward the viewer (the convention of the
SFM, BFM after 3DDFA's flip, and the built-in model). Screen space is in pixels, origin at the top-left
corner of the image, x right, y down, pixel centres at +0.5, and z toward the viewer (larger = nearer):

    x_s = s · (R V)_x + t_x
    y_s = −s · (R V)_y + t_y
    z_s = s · (R V)_z

so ``z_s`` is in pixels too and a depth buffer keeps the largest ``z_s`` (eq. 11 of the paper).
"""

from __future__ import annotations

import attrs
import torch

from .checks import check_tensor
from .errors import InputError


def _check_camera(instance: Camera, attribute: attrs.Attribute, value: object) -> None:
    sizes: dict[str, int] = {}
    check_tensor("Camera.scale", instance.scale, ("B",), sizes)
    check_tensor("Camera.rotation", instance.rotation, ("B", 3, 3), sizes)
    check_tensor("Camera.translation", instance.translation, ("B", 2), sizes)
    if (instance.scale <= 0).any():
        raise InputError("Camera.scale: must be positive")
    r = instance.rotation.detach().double()
    eye = torch.eye(3, dtype=r.dtype, device=r.device)
    if r.numel() and ((r @ r.transpose(-1, -2) - eye).abs().amax() > 1e-3 or (torch.linalg.det(r) <= 0).any()):
        raise InputError("Camera.rotation: must be orthonormal with determinant +1")


def rotation_from_euler(yaw: torch.Tensor, pitch: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``R = R_z(roll) · R_x(pitch) · R_y(yaw)`` from angles in radians.

    Yaw turns the head about the vertical axis (positive: the nose moves toward +x, the subject's left),
    pitch about the horizontal axis (positive: the nose moves down), roll about the view axis.

    Args:
        yaw: (B,) angle about the vertical axis, radians.
        pitch: (B,) angle about the horizontal axis, radians.
        roll: (B,) angle about the view axis, radians.

    Returns:
        (B, 3, 3) rotations.
    """
    cy, sy = torch.cos(yaw), torch.sin(yaw)
    cp, sp = torch.cos(pitch), torch.sin(pitch)
    cr, sr = torch.cos(roll), torch.sin(roll)
    one, zero = torch.ones_like(yaw), torch.zeros_like(yaw)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).view(-1, 3, 3)
    rx = torch.stack([one, zero, zero, zero, cp, -sp, zero, sp, cp], -1).view(-1, 3, 3)
    rz = torch.stack([cr, -sr, zero, sr, cr, zero, zero, zero, one], -1).view(-1, 3, 3)
    return rz @ rx @ ry


def euler_from_rotation(rotation: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rotation_from_euler`: (B, 3, 3) → (B, 3) angles (yaw, pitch, roll) in radians."""
    r = rotation
    pitch = torch.asin(r[:, 2, 1].clamp(-1.0, 1.0))
    yaw = torch.atan2(-r[:, 2, 0], r[:, 2, 2])
    roll = torch.atan2(-r[:, 0, 1], r[:, 1, 1])
    return torch.stack([yaw, pitch, roll], -1)


@attrs.frozen(eq=False)
class Camera:
    """Weak-perspective camera (paper §3.2) for a batch of B views.

    Attributes:
        scale: (B,) pixels per model unit, > 0.
        rotation: (B, 3, 3) rotation of the head, orthonormal with det +1.
        translation: (B, 2) screen position (pixels) of the model origin.

    Example:
        >>> cam = Camera.from_euler(torch.tensor([0.3]), torch.zeros(1), torch.zeros(1),
        ...                         scale=torch.tensor([1.5]), translation=torch.tensor([[128., 128.]]))
        >>> cam.project(torch.zeros(1, 5, 3)).shape
        torch.Size([1, 5, 3])
    """

    scale: torch.Tensor
    rotation: torch.Tensor
    translation: torch.Tensor = attrs.field(validator=_check_camera)

    @classmethod
    def from_euler(
        cls,
        yaw: torch.Tensor,
        pitch: torch.Tensor,
        roll: torch.Tensor,
        *,
        scale: torch.Tensor,
        translation: torch.Tensor,
    ) -> Camera:
        """Build a camera from Euler angles in radians (see :func:`rotation_from_euler`)."""
        return cls(scale=scale, rotation=rotation_from_euler(yaw, pitch, roll), translation=translation)

    @property
    def batch_size(self) -> int:
        return self.scale.shape[0]

    def euler(self) -> torch.Tensor:
        """(B, 3) yaw, pitch, roll in radians."""
        return euler_from_rotation(self.rotation)

    def project(self, vertices: torch.Tensor) -> torch.Tensor:
        """Project model-space vertices to screen space.

        Args:
            vertices: (B, N, 3) model-space points.

        Returns:
            (B, N, 3) screen x, y in pixels and depth z (pixels, toward the viewer).
        """
        check_tensor("vertices", vertices, (self.batch_size, None, 3), finite=False)
        rotated = vertices @ self.rotation.transpose(1, 2)
        s = self.scale[:, None, None]
        flip = rotated.new_tensor([1.0, -1.0, 1.0])
        screen = s * rotated * flip
        return screen + torch.nn.functional.pad(self.translation, (0, 1))[:, None, :]

    def __getitem__(self, index: int | slice | torch.Tensor) -> Camera:
        """The sub-batch ``index`` (an int keeps a batch dimension of 1)."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return Camera(self.scale[index], self.rotation[index], self.translation[index])

    @classmethod
    def cat(cls, cameras: list[Camera]) -> Camera:
        """Concatenate cameras along the batch dimension."""
        return cls(
            torch.cat([c.scale for c in cameras]),
            torch.cat([c.rotation for c in cameras]),
            torch.cat([c.translation for c in cameras]),
        )

    def to(self, device: torch.device | str) -> Camera:
        return Camera(self.scale.to(device), self.rotation.to(device), self.translation.to(device))

