"""SSIM, the structural similarity of the paper's ref. [32] (Wang, Bovik, Sheikh and Simoncelli 2004).

Eq. 13 of [32], with the Gaussian window of its §III-C (11 × 11, σ = 1.5, normalised to sum 1) and
K1 = 0.01, K2 = 0.03, L = ``data_range``:

    SSIM(x, y) = (2 μ_x μ_y + C1)(2 σ_xy + C2) / ((μ_x² + μ_y² + C1)(σ_x² + σ_y² + C2)),  C_i = (K_i L)²,

μ, σ², σ_xy being the window's weighted means, variances and covariance (population form, weights summing
to 1). The map is evaluated where the window fits inside the image ("valid" positions, no padding) and per
channel; the image's SSIM (the MSSIM of [32], eq. 17) is the mean over those positions and channels, or a
weighted mean with a ``mask`` (read at each window's centre). This is scikit-image's
``structural_similarity(..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..checks import check_tensor
from ..errors import InputError

__all__ = ["gaussian_window", "ssim", "ssim_map"]

WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03


def gaussian_window(size: int = WINDOW, sigma: float = SIGMA, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(size,) normalised 1-D Gaussian; the 2-D window of [32] is its outer product with itself."""
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return (g / g.sum()).to(dtype)


def _filter(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' filtering of (N, 1, H, W) with the window g ⊗ g."""
    x = F.conv2d(x, g.view(1, 1, -1, 1))
    return F.conv2d(x, g.view(1, 1, 1, -1))


def ssim_map(x: torch.Tensor, y: torch.Tensor, *, data_range: float = 1.0) -> torch.Tensor:
    """The local SSIM of eq. 13 of [32] at every valid window position.

    Args:
        x: (B, C, H, W) images, H and W ≥ 11.
        y: (B, C, H, W) reference images, same range as ``x``.
        data_range: L, the dynamic range of the values (1 for images in [0, 1], 255 for 8-bit values).

    Returns:
        (B, C, H − 10, W − 10) SSIM values in [−1, 1], differentiable w.r.t. ``x`` and ``y``; position (i, j)
        is the window centred on pixel (i + 5, j + 5).
    """
    sizes: dict[str, int] = {}
    check_tensor("x", x, ("B", "C", "H", "W"), sizes)
    check_tensor("y", y, ("B", "C", "H", "W"), sizes)
    if sizes["H"] < WINDOW or sizes["W"] < WINDOW:
        raise InputError(f"x: SSIM needs images of at least {WINDOW}×{WINDOW} pixels, got {sizes['H']}×{sizes['W']}")
    if not (data_range > 0 and math.isfinite(data_range)):
        raise InputError(f"data_range: expected a positive finite value, got {data_range}")
    b, c, h, w = x.shape
    g = gaussian_window(dtype=x.dtype).to(x.device)
    stack = torch.cat([x, y, x * x, y * y, x * y], 1).reshape(b * 5 * c, 1, h, w)
    mu_x, mu_y, xx, yy, xy = _filter(stack, g).reshape(b, 5, c, h - WINDOW + 1, w - WINDOW + 1).unbind(1)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    return (2 * mu_x * mu_y + c1) * (2 * cov + c2) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def ssim(x: torch.Tensor, y: torch.Tensor, *, mask: torch.Tensor | None = None, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM of each image pair (MSSIM, eq. 17 of [32]), optionally weighted by a mask.

    Args:
        x: (B, C, H, W) images (e.g. the frames of an output video), H and W ≥ 11.
        y: (B, C, H, W) reference images (e.g. the ground truth of self-driving reenactment).
        mask: optional (B, 1, H, W) weights in [0, 1] (e.g. a face region); each window position counts
            with the mask's value at its centre pixel. An image whose mask is empty there gets NaN.
        data_range: L of [32] (1 for images in [0, 1]).

    Returns:
        (B,) SSIM per image, in [−1, 1] (1 for identical images).

    Example:
        >>> x = torch.rand(2, 3, 32, 32)
        >>> ssim(x, x)
        tensor([1., 1.])
    """
    local = ssim_map(x, y, data_range=data_range).mean(1)
    if mask is None:
        return local.flatten(1).mean(1)
    check_tensor("mask", mask, (x.shape[0], 1, x.shape[2], x.shape[3]))
    r = WINDOW // 2
    weights = mask[:, 0, r : x.shape[2] - r, r : x.shape[3] - r].to(local.dtype)
    return (local * weights).flatten(1).sum(1) / weights.flatten(1).sum(1)
