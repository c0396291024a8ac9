"""Temporal smoothing of fitted coefficients: the SDK's inference-time aid to temporal consistency.

Per-frame fits jitter with landmark noise; the low-dimensional coefficients can be filtered over time at
almost no cost (ARCHITECTURE "Temporal consistency"). The filter is a normalised Gaussian convolution over
the frames where a face was found, so missing frames neither pull the neighbours toward placeholder values
nor leave gaps at the clip's ends; the face's placement is smoothed by a local linear regression, so a
moving face is not dragged inward at the clip's ends or beside a gap.
"""

from __future__ import annotations

import math

import torch

from .camera import Camera
from .errors import InputError
from .records import FaceFit


def gaussian_smooth(values: torch.Tensor, sigma: float, weights: torch.Tensor | None = None, *, linear: bool = False) -> torch.Tensor:
    """Normalised Gaussian filter along the first (time) dimension, or a Gaussian-weighted local linear
    regression (``linear=True``).

    The filter is Σ_k g(k) w_{t−k} x_{t−k} / Σ_k g(k) w_{t−k} (g a Gaussian of σ = ``sigma`` frames). The
    regression fits a line a + b (s − t) to the samples x_s at each frame t by least squares with weights
    g(s − t) w_s and returns a. Where frames on both sides are present the two agree; at the clip's ends and
    beside missing frames the regression does not lag — a value moving at constant speed is not pulled
    toward the frames that are there (the filter shifts it by ≈ 0.8 σ × its speed per frame at an end) —
    at the price of less noise reduction there. Where the window's samples cannot fix a slope (a lone
    sample) the regression falls back to the filter.

    Args:
        values: (T, ...) samples over time.
        sigma: standard deviation of the kernel in frames; 0 returns ``values`` unchanged.
        weights: optional (T,) sample weights (0 excludes a frame).
        linear: the local linear regression instead of the filter.

    Returns:
        (T, ...) filtered values.
    """
    if sigma < 0 or not math.isfinite(sigma):
        raise InputError(f"sigma: expected a finite value >= 0, got {sigma}")
    if sigma == 0 or values.shape[0] < 2:
        return values
    t = values.shape[0]
    radius = min(int(math.ceil(3 * sigma)), t - 1)
    offsets = torch.arange(-radius, radius + 1, dtype=values.dtype, device=values.device)
    gauss = torch.exp(-0.5 * (offsets / sigma) ** 2)
    # conv1d correlates: output t sums input t + k with kernel[k + radius], so offset k is s − t
    kernels = torch.stack([gauss, gauss * offsets, gauss * offsets**2])[:, None, :]
    w = torch.ones(t, dtype=values.dtype, device=values.device) if weights is None else weights.to(values.dtype)
    flat = values.reshape(t, -1).T[:, None, :]

    def window(x: torch.Tensor, k: slice) -> torch.Tensor:
        return torch.nn.functional.conv1d(torch.nn.functional.pad(x, (radius, radius)), kernels[k])

    s0, s1, s2 = window(w.view(1, 1, -1), slice(0, 3))[0]
    t0, t1 = window(flat * w, slice(0, 2)).unbind(1)
    s0 = s0.clamp_min(1e-12)
    if not linear:
        return (t0 / s0).T.reshape(values.shape)
    det = s0 * s2 - s1**2
    sloped = det > 0.05 * s0 * s2
    slope = torch.where(sloped, (s0 * t1 - s1 * t0) / torch.where(sloped, det, torch.ones_like(det)), torch.zeros_like(t0))
    return (t0 / s0 - s1 / s0 * slope).T.reshape(values.shape)


def nearest_rotation(matrices: torch.Tensor) -> torch.Tensor:
    """Project (B, 3, 3) matrices to the nearest rotations (SVD, det +1)."""
    u, _, vh = torch.linalg.svd(matrices)
    d = torch.sign(torch.linalg.det(u @ vh))
    fix = torch.ones_like(matrices[:, 0])
    fix[:, 2] = d
    return (u * fix[:, None, :]) @ vh


def smooth_fit(fit: FaceFit, sigma: float) -> FaceFit:
    """Smooth a clip's fit over time (frames = batch).

    Expression and identity are filtered with :func:`gaussian_smooth`; rotations are filtered as matrices
    and projected back to rotations; the placement (scale and translation) is smoothed by the local linear
    regression, so a face moving across the frame is drawn where it is at the clip's ends and beside frames
    where it was not found (a face leaving the frame at 13 px per frame was drawn ~20 px behind by the
    filter). Frames without a face keep their placeholders and do not influence the others.

    Args:
        fit: the fit of consecutive frames of one clip.
        sigma: Gaussian standard deviation in frames (0 = no smoothing).
    """
    w = fit.found_mask.float()
    if sigma == 0 or not bool(w.any()):
        return fit
    cam = fit.camera
    keep = fit.found_mask

    def smooth(x: torch.Tensor, linear: bool = False) -> torch.Tensor:
        return torch.where(keep.view(-1, *[1] * (x.dim() - 1)), gaussian_smooth(x, sigma, w, linear=linear), x)

    rotation = torch.where(keep[:, None, None], nearest_rotation(gaussian_smooth(cam.rotation, sigma, w)), cam.rotation)
    return FaceFit(
        alpha_id=smooth(fit.alpha_id),
        alpha_exp=smooth(fit.alpha_exp),
        camera=Camera(smooth(cam.scale, True), rotation, smooth(cam.translation, True)),
        image_size=fit.image_size,
        landmarks=fit.landmarks,
        found=fit.found,
    )


def bridge_gaps(fit: FaceFit) -> FaceFit:
    """A clip's fit with every frame where no face was found given coefficients and a pose from the frames
    that had one: interpolated linearly between the nearest found frames on either side (rotations as
    matrices, projected back to rotations), held at the clip's ends. ``found`` is kept, so callers still know
    which frames were seen.

    For a source that only drives an edit (a reenactment's driver, a remix's expression): a frame where the
    driving face was missed — a blink of the detector, a hand passing — still has a pose and an expression to
    give, and the edited frame need not fall back to the unedited one.

    Args:
        fit: the fit of consecutive frames of one clip.
    """
    found = fit.found_mask
    if bool(found.all()) or not bool(found.any()):
        return fit
    frame = torch.arange(fit.batch_size, device=found.device)
    seen = frame[found]
    after = torch.searchsorted(seen, frame).clamp(max=len(seen) - 1)
    hi, lo = seen[after], seen[(after - 1).clamp(min=0)]
    lo = torch.where(hi >= frame, lo, hi)
    t = ((frame - lo).to(fit.alpha_exp.dtype) / (hi - lo).clamp(min=1).to(fit.alpha_exp.dtype)).clamp(0, 1)

    def between(x: torch.Tensor) -> torch.Tensor:
        w = t.view(-1, *[1] * (x.dim() - 1)).to(x.dtype)
        return torch.where(found.view(-1, *[1] * (x.dim() - 1)), x, x[lo] + w * (x[hi] - x[lo]))

    cam = fit.camera
    rotation = torch.where(found[:, None, None], cam.rotation, nearest_rotation(between(cam.rotation)))
    return FaceFit(
        alpha_id=between(fit.alpha_id),
        alpha_exp=between(fit.alpha_exp),
        camera=Camera(between(cam.scale), rotation, between(cam.translation)),
        image_size=fit.image_size,
        landmarks=fit.landmarks,
        found=fit.found,
    )
