"""3DDFA_V2's parameter convention: the 62-vector, its normalisation, and the 120×120 crop geometry.

3DDFA_V2 (Guo et al. 2020) regresses, from a 120×120 crop of a face, 62 numbers: 12 pose values — the 3×4
matrix [s·R | offset] in row-major order — then 40 shape and 10 expression coefficients of the BFM as it
ships it (``bfm_noneck_v3.pkl``). The network's output is normalised: ``params = output · std + mean`` with
``mean`` and ``std`` (62,) float32 from ``param_mean_std_62d_120x120.pkl``. A vertex X (BFM units, the
SDK's model axes: y up, z toward the viewer) lands in the crop at

    P = [s·R | offset] (X, 1),    x_crop = P_x − 1,    y_crop = 120 − P_y

(1-based origin; y flipped to point down) and in the image at ``x_crop · (ex − sx) / 120 + sx`` (same for
y) for the crop box ``roi_box = (sx, sy, ex, ey)``. 3DDFA_V2 puts pixel centres at integer coordinates
(OpenCV's convention); the SDK puts them at +0.5 (:mod:`tfvsdk.camera`), so SDK x = 3DDFA x + 0.5. Boxes
here are in 3DDFA_V2's coordinates, so the boxes it reports can be used as they are.

The SDK's weak-perspective camera has one scale, so crop boxes must be square (3DDFA_V2's always are); the
depth offset ``offset_z`` has no counterpart (3DDFA_V2 itself shifts depth so its minimum is 0).

Coefficients: with the BFM loaded as ``load_bfm(path, id_std=stats.id_std, exp_std=stats.exp_std)`` (bases
whitened by the 62-vector's std, so that α ~ N(0, I) roughly holds), α_id = α_shape / std[12:52] and
α_exp = α_expression / std[52:62] (``whitened=True``); with the raw bases they are equal (``whitened=False``).
"""

from __future__ import annotations

import math
import os

import attrs
import numpy as np
import torch

from tfvsdk import Camera, FaceFit, InputError, ModelFileError
from tfvsdk.checks import check_tensor
from tfvsdk.morphable import load_numpy_pickle

PARAM_COUNT = 62
POSE_SLICE = slice(0, 12)
SHAPE_SLICE = slice(12, 52)
EXP_SLICE = slice(52, 62)
CROP_SIZE = 120


@attrs.frozen(eq=False)
class ParamStats:
    """Mean and standard deviation of 3DDFA_V2's 62 parameters (``param_mean_std_62d_120x120.pkl``).

    Attributes:
        mean: (62,) float32 mean.
        std: (62,) float32 standard deviation (> 0).
    """

    mean: torch.Tensor
    std: torch.Tensor = attrs.field()

    @std.validator
    def _check(self, attribute: attrs.Attribute, value: torch.Tensor) -> None:
        check_tensor("ParamStats.mean", self.mean, (PARAM_COUNT,))
        check_tensor("ParamStats.std", value, (PARAM_COUNT,))
        if bool((value <= 0).any()):
            raise InputError("ParamStats.std: must be positive")

    @classmethod
    def load(cls, path: str | os.PathLike) -> ParamStats:
        """Read ``param_mean_std_62d_120x120.pkl`` (a pickle of numpy arrays, read without running code).

        Raises:
            ModelFileError: not such a pickle, or arrays of the wrong shape.
        """
        data = load_numpy_pickle(path)
        if not isinstance(data, dict) or not {"mean", "std"} <= set(data):
            raise ModelFileError(f"{os.fspath(path)}: expected a dict with 'mean' and 'std' arrays")
        arrays = {k: np.asarray(data[k], np.float32).reshape(-1) for k in ("mean", "std")}
        if any(a.shape != (PARAM_COUNT,) for a in arrays.values()):
            raise ModelFileError(f"{os.fspath(path)}: expected mean and std of {PARAM_COUNT} values")
        try:
            return cls(torch.from_numpy(arrays["mean"]), torch.from_numpy(arrays["std"]))
        except InputError as exc:
            raise ModelFileError(f"{os.fspath(path)}: {exc}") from exc

    @property
    def id_std(self) -> torch.Tensor:
        """(40,) std of the shape coefficients (pass to ``load_bfm(id_std=...)``)."""
        return self.std[SHAPE_SLICE]

    @property
    def exp_std(self) -> torch.Tensor:
        """(10,) std of the expression coefficients (pass to ``load_bfm(exp_std=...)``)."""
        return self.std[EXP_SLICE]

    def normalize(self, params: torch.Tensor) -> torch.Tensor:
        """(B, 62) parameters → the network's normalised output, (p − mean) / std."""
        return (params - self.mean.to(params)) / self.std.to(params)

    def denormalize(self, output: torch.Tensor) -> torch.Tensor:
        """(B, 62) network output → parameters, output · std + mean (as 3DDFA_V2 re-scales it)."""
        return output * self.std.to(output) + self.mean.to(output)


def roi_box_from_bbox(bbox: torch.Tensor) -> torch.Tensor:
    """3DDFA_V2's crop box from a face detector's box (its ``crop_policy="box"``).

    The crop is a square of side ⌊1.58 × the mean of the box's width and height⌋ centred on the box, moved
    down by 0.14 × that mean.

    Args:
        bbox: (B, 4) detector boxes (left, top, right, bottom), pixel centres at integers.

    Returns:
        (B, 4) crop boxes (sx, sy, ex, ey) in the same coordinates.
    """
    check_tensor("bbox", bbox, (None, 4))
    left, top, right, bottom = bbox.unbind(-1)
    old = (right - left + bottom - top) / 2
    cx = (left + right) / 2
    cy = (top + bottom) / 2 + 0.14 * old
    size = torch.floor(old * 1.58)
    return torch.stack([cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2], -1)


def roi_box_from_landmarks(landmarks: torch.Tensor) -> torch.Tensor:
    """3DDFA_V2's crop box from landmarks (its ``crop_policy="landmark"``, used when tracking in videos).

    The square around the landmarks' bounding box (side = its longer side) is enlarged to its diagonal.

    Args:
        landmarks: (B, L, 2) landmarks in the SDK's pixel coordinates (centres at +0.5); NaN ignored.

    Returns:
        (B, 4) crop boxes (sx, sy, ex, ey) in 3DDFA_V2's coordinates (centres at integers).
    """
    check_tensor("landmarks", landmarks, (None, None, 2), finite=False)
    pts = landmarks - 0.5
    valid = torch.isfinite(pts).all(-1, keepdim=True)
    low = torch.where(valid, pts, torch.full_like(pts, math.inf)).amin(1)
    high = torch.where(valid, pts, torch.full_like(pts, -math.inf)).amax(1)
    centre = (low + high) / 2
    side = (high - low).amax(-1) * math.sqrt(2.0)
    return torch.cat([centre - side[:, None] / 2, centre + side[:, None] / 2], -1)


def _box_scale(roi_box: torch.Tensor, crop_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    kx = (roi_box[:, 2] - roi_box[:, 0]) / crop_size
    ky = (roi_box[:, 3] - roi_box[:, 1]) / crop_size
    if bool((kx <= 0).any() or (ky <= 0).any()):
        raise InputError("roi_box: expected boxes (sx, sy, ex, ey) with ex > sx and ey > sy")
    if bool(((kx - ky).abs() > 1e-3 * kx).any()):
        raise InputError("roi_box: 3DDFA_V2's crop boxes are square; got boxes with different width and height")
    return kx, ky


def _require_stats(stats: ParamStats | None, normalized: bool, whitened: bool) -> None:
    if (normalized or whitened) and stats is None:
        raise InputError("stats: the 62-vector's mean/std (ParamStats.load(...)) are needed with normalized or whitened")


def from_3ddfa_params(
    params: torch.Tensor,
    roi_box: torch.Tensor,
    image_size: tuple[int, int],
    stats: ParamStats | None = None,
    *,
    normalized: bool = False,
    whitened: bool = True,
    crop_size: int = CROP_SIZE,
) -> FaceFit:
    """A :class:`~tfvsdk.FaceFit` from 3DDFA_V2 parameters (see the module docstring for the geometry).

    The scaled rotation's first two rows give the scale (mean of their norms, as 3DDFA_V2's ``P2sRt``) and
    the rotation (the nearest matrix with orthonormal rows, completed by their cross product).

    Args:
        params: (B, 62) parameters (3DDFA_V2's ``param_lst``), or network outputs with ``normalized``.
        roi_box: (B, 4) the square crop boxes the parameters refer to (3DDFA_V2's ``roi_box_lst``).
        image_size: (height, width) of the images.
        stats: the 62-vector's mean and std; needed when ``normalized`` or ``whitened``.
        normalized: ``params`` are the network's normalised output (de-normalised here).
        whitened: the model's bases are multiplied by ``stats``' std (see the module docstring).
        crop_size: side of the network's input crop.

    Returns:
        The fit: 40 identity and 10 expression coefficients and the camera in image pixels.
    """
    sizes: dict[str, int] = {}
    check_tensor("params", params, ("B", PARAM_COUNT), sizes)
    check_tensor("roi_box", roi_box, ("B", 4), sizes)
    _require_stats(stats, normalized, whitened)
    p = stats.denormalize(params) if normalized else params
    kx, ky = _box_scale(roi_box.to(p), crop_size)
    pose = p[:, POSE_SLICE].reshape(-1, 3, 4)
    rows = pose[:, :2, :3]
    s_crop = rows.norm(dim=-1).mean(-1)
    u, _, vh = torch.linalg.svd(rows, full_matrices=False)
    top = u @ vh
    rotation = torch.cat([top, torch.linalg.cross(top[:, 0], top[:, 1])[:, None]], 1)
    offset = pose[:, :, 3]
    box = roi_box.to(p)
    translation = torch.stack(
        [kx * (offset[:, 0] - 1) + box[:, 0] + 0.5, ky * (crop_size - offset[:, 1]) + box[:, 1] + 0.5], -1
    )
    alpha_id, alpha_exp = p[:, SHAPE_SLICE], p[:, EXP_SLICE]
    if whitened:
        alpha_id = alpha_id / stats.id_std.to(p)
        alpha_exp = alpha_exp / stats.exp_std.to(p)
    return FaceFit(alpha_id, alpha_exp, Camera(s_crop * (kx + ky) / 2, rotation, translation), image_size)


def to_3ddfa_params(
    fit: FaceFit,
    roi_box: torch.Tensor | None = None,
    stats: ParamStats | None = None,
    *,
    normalized: bool = False,
    whitened: bool = True,
    crop_size: int = CROP_SIZE,
    offset_z: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """3DDFA_V2 parameters of a fit of the BFM (40 identity, 10 expression coefficients).

    Args:
        fit: the fit.
        roi_box: (B, 4) crop boxes; by default 3DDFA_V2's landmark crop of ``fit.landmarks``.
        stats: the 62-vector's mean and std; needed when ``normalized`` or ``whitened``.
        normalized: return the network's normalised form, (p − mean) / std.
        whitened: the model's bases are multiplied by ``stats``' std (see the module docstring).
        crop_size: side of the network's input crop.
        offset_z: the depth offset to write (no counterpart in the fit); default ``stats.mean[11]`` or 0.

    Returns:
        ``(params, roi_box)``: (B, 62) parameters and the (B, 4) boxes they refer to.

    Raises:
        InputError: the fit's coefficient counts are not 40 and 10, no box and no landmarks, or boxes that
            are not square.
    """
    if fit.alpha_id.shape[1] != SHAPE_SLICE.stop - SHAPE_SLICE.start or fit.alpha_exp.shape[1] != EXP_SLICE.stop - EXP_SLICE.start:
        raise InputError(
            f"fit: 3DDFA_V2's parameters hold 40 identity and 10 expression coefficients, got "
            f"{fit.alpha_id.shape[1]} and {fit.alpha_exp.shape[1]}"
        )
    _require_stats(stats, normalized, whitened)
    if roi_box is None:
        if fit.landmarks is None:
            raise InputError("roi_box: needed when the fit has no landmarks to derive 3DDFA_V2's crop from")
        roi_box = roi_box_from_landmarks(fit.landmarks)
    check_tensor("roi_box", roi_box, (fit.batch_size, 4))
    cam = fit.camera
    dtype = cam.scale.dtype
    box = roi_box.to(dtype)
    kx, ky = _box_scale(box, crop_size)
    s_crop = cam.scale / ((kx + ky) / 2)
    if offset_z is None:
        offset_z = float(stats.mean[11]) if stats is not None else 0.0
    offset = torch.stack(
        [
            (cam.translation[:, 0] - box[:, 0] - 0.5) / kx + 1,
            crop_size - (cam.translation[:, 1] - box[:, 1] - 0.5) / ky,
            torch.full_like(kx, offset_z),
        ],
        -1,
    )
    pose = torch.cat([s_crop[:, None, None] * cam.rotation, offset[..., None]], -1).reshape(-1, 12)
    alpha_id, alpha_exp = fit.alpha_id.to(dtype), fit.alpha_exp.to(dtype)
    if whitened:
        alpha_id = alpha_id * stats.id_std.to(dtype)
        alpha_exp = alpha_exp * stats.exp_std.to(dtype)
    params = torch.cat([pose, alpha_id, alpha_exp], 1)
    return (stats.normalize(params) if normalized else params), roi_box


def crop_images(images: torch.Tensor, roi_box: torch.Tensor, crop_size: int = CROP_SIZE) -> torch.Tensor:
    """3DDFA_V2's network input: the box cut out (zeros outside the image), resized bilinearly, BGR,
    (x·255 − 127.5) / 128.

    3DDFA_V2 rounds the box to whole pixels, crops, and resizes with OpenCV's bilinear ``resize``; this
    samples the same positions (pixel j of the crop at ``round(sx) + (j + 0.5) · side / crop_size`` in
    continuous image coordinates).

    Args:
        images: (B, 3, H, W) RGB in [0, 1].
        roi_box: (B, 4) crop boxes in 3DDFA_V2's coordinates.
        crop_size: side of the crop.

    Returns:
        (B, 3, crop_size, crop_size) network input.
    """
    sizes: dict[str, int] = {}
    check_tensor("images", images, ("B", 3, None, None), sizes)
    check_tensor("roi_box", roi_box, ("B", 4), sizes)
    h, w = images.shape[-2:]
    box = torch.round(roi_box.to(images))
    steps = (torch.arange(crop_size, dtype=images.dtype, device=images.device) + 0.5) / crop_size
    xs = box[:, 0:1] + steps * (box[:, 2:3] - box[:, 0:1])
    ys = box[:, 1:2] + steps * (box[:, 3:4] - box[:, 1:2])
    gx = (2 * xs / w - 1)[:, None, :].expand(-1, crop_size, -1)
    gy = (2 * ys / h - 1)[:, :, None].expand(-1, -1, crop_size)
    crop = torch.nn.functional.grid_sample(
        images, torch.stack([gx, gy], -1), mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return (crop.flip(1) * 255 - 127.5) / 128


def image_affine(params: torch.Tensor, roi_box: torch.Tensor, *, crop_size: int = CROP_SIZE) -> torch.Tensor:
    """3DDFA_V2's own projection of the parameters, exactly: the 2×4 affine map from model points (X, 1) to
    SDK image pixels (x right, y down, pixel centres at +0.5), i.e. ``[s·R | offset]`` with the crop's
    flips and scale folded in. Use it where the single-scale camera's error
    (:func:`camera_conversion_error`) matters.

    Args:
        params: (B, 62) de-normalised parameters.
        roi_box: (B, 4) square crop boxes.
        crop_size: side of the network's input crop.

    Returns:
        (B, 2, 4) float64 matrices A with image (x, y) = A (X, 1).
    """
    sizes: dict[str, int] = {}
    check_tensor("params", params, ("B", PARAM_COUNT), sizes)
    check_tensor("roi_box", roi_box, ("B", 4), sizes)
    box = roi_box.double()
    kx, ky = _box_scale(box, crop_size)
    pose = params.double()[:, POSE_SLICE].reshape(-1, 3, 4)
    x = kx[:, None] * pose[:, 0]
    y = -ky[:, None] * pose[:, 1]
    x = x + torch.nn.functional.pad((box[:, 0] + 0.5 - kx)[:, None], (3, 0))
    y = y + torch.nn.functional.pad((box[:, 1] + 0.5 + ky * crop_size)[:, None], (3, 0))
    return torch.stack([x, y], 1)


def camera_conversion_error(
    params: torch.Tensor, roi_box: torch.Tensor, points: torch.Tensor, *, crop_size: int = CROP_SIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """How far the SDK's single-scale camera of :func:`from_3ddfa_params` puts points from 3DDFA_V2's own
    affine projection (:func:`image_affine`) of the same parameters.

    The regressed 2×3 block is not exactly a scaled rotation: its two rows differ in norm (by ~0.7 % on
    real photos, 1.0 % on the astronaut test photo) and are not exactly orthogonal (0.6° there). The
    conversion keeps the mean row norm and the nearest rotation, so a point X moves by the difference of
    the two projections; this returns that difference over ``points``.

    Args:
        params: (B, 62) de-normalised parameters.
        roi_box: (B, 4) square crop boxes.
        points: (B, N, 3) model points in the parameters' model (BFM units, the SDK's axes), e.g.
            ``model.shape(fit.alpha_id, fit.alpha_exp)``.
        crop_size: side of the network's input crop.

    Returns:
        ``(max, rms)``: (B,) largest and root-mean-square distance in image pixels.
    """
    check_tensor("points", points, (params.shape[0], None, 3))
    affine = image_affine(params, roi_box, crop_size=crop_size)
    theirs = points.double() @ affine[:, :, :3].transpose(1, 2) + affine[:, None, :, 3]
    fit = from_3ddfa_params(params.double(), roi_box.double(), (1, 1), whitened=False, crop_size=crop_size)
    distance = (fit.camera.project(points.double())[..., :2] - theirs).norm(dim=-1)
    return distance.amax(1), distance.square().mean(1).sqrt()
