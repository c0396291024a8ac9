"""The records passed between components: frozen attrs classes whose validators check shapes and values.

Tensors are torch, float32 by default, batch-first. Images are (B, 3, H, W) in [0, 1]; masks (B, 1, H, W)
in [0, 1]. Screen space is described in :mod:`tfvsdk.camera`. Change a record with ``attrs.evolve``.
"""

from __future__ import annotations

import attrs
import torch

from .camera import Camera
from .checks import check_range, check_tensor
from .errors import InputError


def _check_image_size(instance: object, attribute: attrs.Attribute, value: tuple[int, int]) -> None:
    if len(value) != 2 or any(not isinstance(v, int) or v <= 0 for v in value):
        raise InputError(f"{type(instance).__name__}.{attribute.name}: expected (height, width) > 0, got {value!r}")


def _check_fit(fit: FaceFit, attribute: attrs.Attribute, value: object) -> None:
    sizes = {"B": fit.camera.batch_size}
    check_tensor("FaceFit.alpha_id", fit.alpha_id, ("B", None), sizes)
    check_tensor("FaceFit.alpha_exp", fit.alpha_exp, ("B", None), sizes)
    if fit.landmarks is not None:
        check_tensor("FaceFit.landmarks", fit.landmarks, ("B", None, 2), sizes, finite=False)
    if fit.found is not None:
        check_tensor("FaceFit.found", fit.found, ("B",), sizes, floating=False)
        if fit.found.dtype != torch.bool:
            raise InputError(f"FaceFit.found: expected a bool tensor, got {fit.found.dtype}")


@attrs.frozen(eq=False)
class FaceFit:
    """The 3DMM reconstruction of B images (paper §3.2, eq. 1): identity, expression and camera.

    Attributes:
        alpha_id: (B, K_id) identity coefficients α_id.
        alpha_exp: (B, K_exp) expression coefficients α_exp.
        camera: the weak-perspective pose C (batch B).
        image_size: (height, width) in pixels of the images the fit refers to.
        landmarks: optional (B, L, 2) 2-D landmarks (pixels) the fit was made from; NaN where missing.
        found: optional (B,) bool, False for images where no face was found (their coefficients are
            placeholders that must not be used). ``None`` means every face was found.
    """

    alpha_id: torch.Tensor
    alpha_exp: torch.Tensor
    camera: Camera
    image_size: tuple[int, int] = attrs.field(converter=tuple, validator=_check_image_size)
    landmarks: torch.Tensor | None = None
    found: torch.Tensor | None = attrs.field(default=None, validator=_check_fit)

    @property
    def batch_size(self) -> int:
        return self.camera.batch_size

    @property
    def found_mask(self) -> torch.Tensor:
        """(B,) bool: True where a face was found."""
        if self.found is None:
            return torch.ones(self.batch_size, dtype=torch.bool, device=self.alpha_id.device)
        return self.found

    def __getitem__(self, index: int | slice | torch.Tensor) -> FaceFit:
        """The sub-batch ``index`` (an int keeps a batch dimension of 1)."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return FaceFit(
            alpha_id=self.alpha_id[index],
            alpha_exp=self.alpha_exp[index],
            camera=self.camera[index],
            image_size=self.image_size,
            landmarks=None if self.landmarks is None else self.landmarks[index],
            found=None if self.found is None else self.found[index],
        )

    def to(self, device: torch.device | str) -> FaceFit:
        """The same fit on ``device``."""
        return FaceFit(
            alpha_id=self.alpha_id.to(device),
            alpha_exp=self.alpha_exp.to(device),
            camera=self.camera.to(device),
            image_size=self.image_size,
            landmarks=None if self.landmarks is None else self.landmarks.to(device),
            found=None if self.found is None else self.found.to(device),
        )

    @classmethod
    def cat(cls, fits: list[FaceFit]) -> FaceFit:
        """Concatenate fits of images of the same size along the batch dimension."""
        if not fits:
            raise InputError("FaceFit.cat: expected at least one fit")
        sizes = {f.image_size for f in fits}
        if len(sizes) != 1:
            raise InputError(f"FaceFit.cat: fits refer to different image sizes {sorted(sizes)}")
        has_landmarks = all(f.landmarks is not None for f in fits)
        return cls(
            alpha_id=torch.cat([f.alpha_id for f in fits]),
            alpha_exp=torch.cat([f.alpha_exp for f in fits]),
            camera=Camera.cat([f.camera for f in fits]),
            image_size=fits[0].image_size,
            landmarks=torch.cat([f.landmarks for f in fits]) if has_landmarks else None,
            found=None if all(f.found is None for f in fits) else torch.cat([f.found_mask for f in fits]),
        )


def _check_detection(det: Detection, attribute: attrs.Attribute, value: object) -> None:
    sizes: dict[str, int] = {}
    check_tensor("Detection.landmarks", det.landmarks, ("B", None, 2), sizes, finite=False)
    check_tensor("Detection.found", det.found, ("B",), sizes, floating=False)
    if det.found.dtype != torch.bool:
        raise InputError(f"Detection.found: expected a bool tensor, got {det.found.dtype}")


@attrs.frozen(eq=False)
class Detection:
    """2-D facial landmarks of B images, as a :class:`~tfvsdk.interfaces.LandmarkDetector` returns them.

    Attributes:
        landmarks: (B, L, 2) pixel positions (L = 68, iBUG order, for the built-in detectors); NaN where
            no face was found.
        found: (B,) bool, True where a face was found.
        image_size: (height, width) of the images.
    """

    landmarks: torch.Tensor
    found: torch.Tensor
    image_size: tuple[int, int] = attrs.field(converter=tuple, validator=[_check_image_size, _check_detection])


def _check_faces(faces: Faces, attribute: attrs.Attribute, value: object) -> None:
    sizes: dict[str, int] = {}
    check_tensor("Faces.landmarks", faces.landmarks, ("F", None, 2), sizes)
    check_tensor("Faces.boxes", faces.boxes, ("F", 4), sizes)
    check_tensor("Faces.scores", faces.scores, ("F",), sizes)
    if bool((faces.boxes[:, 2:] < faces.boxes[:, :2]).any()):
        raise InputError("Faces.boxes: expected (left, top, right, bottom) with right >= left and bottom >= top")


@attrs.frozen(eq=False)
class Faces:
    """Every face a :class:`~tfvsdk.interfaces.LandmarkDetector` found in one image (F ≥ 0 faces).

    Attributes:
        landmarks: (F, L, 2) finite pixel positions of each face's landmarks (pixel centres at +0.5).
        boxes: (F, 4) the detector's face boxes (left, top, right, bottom) in pixels.
        scores: (F,) the detector's confidence of each face (larger = surer; the scale is the detector's).
        image_size: (height, width) of the image.
    """

    landmarks: torch.Tensor
    boxes: torch.Tensor
    scores: torch.Tensor
    image_size: tuple[int, int] = attrs.field(converter=tuple, validator=[_check_image_size, _check_faces])

    def __len__(self) -> int:
        return self.landmarks.shape[0]


@attrs.frozen(eq=False)
class Composition:
    """What a task takes from which source (paper eq. 2 and the hint rules of §3.2).

    A :class:`~tfvsdk.interfaces.TaskComposer` builds it from the fits of its sources; the editing pipeline
    then renders ``S = S̄ + A_id α_id + A_exp α_exp`` (eq. 2) under ``camera`` with the texture of
    ``texture_role``'s frame (T^i of eq. 3) and blends it onto ``appearance_role``'s frame with the hint
    ``M = X_hint (1 − M̂)`` taken from ``hint_role``'s frame.

    Attributes:
        alpha_id: (B, K_id) identity coefficients (α_id^i).
        alpha_exp: (B, K_exp) expression coefficients (α_exp^e).
        camera: the pose C^p the face is rendered under (batch B).
        image_size: (height, width) of the output frame (the pose source's frame).
        texture_role: name of the source whose frame and fit supply the texture T^i.
        appearance_role: name of the source whose frame is the appearance frame X_p given to the blender.
        hint_role: name of the source whose frame is masked into the appearance hint M.
    """

    alpha_id: torch.Tensor
    alpha_exp: torch.Tensor
    camera: Camera
    image_size: tuple[int, int] = attrs.field(converter=tuple, validator=_check_image_size)
    texture_role: str = "identity"
    appearance_role: str = "pose"
    hint_role: str = attrs.field(default="pose")

    @hint_role.validator
    def _check(self, attribute: attrs.Attribute, value: str) -> None:
        sizes = {"B": self.camera.batch_size}
        check_tensor("Composition.alpha_id", self.alpha_id, ("B", None), sizes)
        check_tensor("Composition.alpha_exp", self.alpha_exp, ("B", None), sizes)


def _check_rendering(r: Rendering, attribute: attrs.Attribute, value: object) -> None:
    sizes: dict[str, int] = {}
    check_tensor("Rendering.image", r.image, ("B", None, "H", "W"), sizes, finite=False)
    check_tensor("Rendering.mask", r.mask, ("B", 1, "H", "W"), sizes)
    check_range("Rendering.mask", r.mask, 0.0, 1.0)
    check_tensor("Rendering.depth", r.depth, ("B", 1, "H", "W"), sizes, finite=False)
    check_tensor("Rendering.triangle_id", r.triangle_id, ("B", "H", "W"), sizes, floating=False)
    check_tensor("Rendering.barycentrics", r.barycentrics, ("B", "H", "W", 3), sizes)
    check_tensor("Rendering.vertices", r.vertices, ("B", None, 3), sizes, finite=False)
    if r.triangle_id.dtype not in (torch.int32, torch.int64):
        raise InputError(f"Rendering.triangle_id: expected an integer tensor, got {r.triangle_id.dtype}")


@attrs.frozen(eq=False)
class Rendering:
    """The output of a :class:`~tfvsdk.interfaces.Renderer`: R, M̂ and the rasterizer's buffers (eq. 3, 9–11).

    Attributes:
        image: (B, C, H, W) rendered image R in [0, 1] (C = 3 for colour), 0 outside the face.
        mask: (B, 1, H, W) face mask M̂: 1 where a triangle covers the pixel centre, else 0.
        depth: (B, 1, H, W) depth buffer Z: screen z of the nearest surface (pixels, toward the viewer:
            larger = nearer); ``-inf`` where empty.
        triangle_id: (B, H, W) int64 index of the visible triangle, −1 where empty.
        barycentrics: (B, H, W, 3) barycentric weights (λ0, λ1, λ2) of the visible triangle's vertices
            0, 1, 2 at the pixel centre; 0 where empty.
        vertices: (B, N, 3) screen-space vertices the rendering was made from.
    """

    image: torch.Tensor
    mask: torch.Tensor
    depth: torch.Tensor
    triangle_id: torch.Tensor
    barycentrics: torch.Tensor
    vertices: torch.Tensor = attrs.field(validator=_check_rendering)

    @property
    def image_size(self) -> tuple[int, int]:
        return (self.image.shape[-2], self.image.shape[-1])
