"""Pixel-wise comparisons with a reference: the photometric error of the paper (§4.2, Fig. 8, after ref. [1],
Kim et al. 2018) as a masked mean absolute error in 0–255 units, PSNR, and a detail ratio.

With a face mask the photometric error is the "face MAE": the mean over the face's pixels and the colour
channels of ``255 · |x − y|``. The detail ratio (not one of the paper's metrics) tells a blurred output
(< 1) from a noisy or blotched one (> 1), which the MAE and E_tmp do not: a blur raises the MAE a little and
lowers E_tmp.
"""

from __future__ import annotations

import torch

from ..checks import check_tensor

__all__ = ["detail_ratio", "photometric_error", "psnr"]

PSNR_CAP_DB = 100.0


def _weights(name: str, mask: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    if mask is None:
        return torch.ones_like(x[:, :1])
    check_tensor(name, mask, (x.shape[0], 1, x.shape[2], x.shape[3]))
    return mask.to(x.dtype)


def _masked_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(B,) mean of (B, C, H, W) values over pixels weighted by (B, 1, H, W) weights and over channels."""
    return (values * weights).flatten(1).sum(1) / (weights.flatten(1).sum(1) * values.shape[1])


def photometric_error(x: torch.Tensor, y: torch.Tensor, *, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error in [0, 255] units: ``Σ_q m(q) Σ_c 255 |x_c(q) − y_c(q)| / (C Σ_q m(q))``.

    Args:
        x: (B, C, H, W) images in [0, 1].
        y: (B, C, H, W) reference images in [0, 1].
        mask: optional (B, 1, H, W) weights (e.g. the face region, giving the face MAE).

    Returns:
        (B,) errors in [0, 255] (NaN for an image whose mask is empty).
    """
    sizes: dict[str, int] = {}
    check_tensor("x", x, ("B", "C", "H", "W"), sizes)
    check_tensor("y", y, ("B", "C", "H", "W"), sizes)
    return _masked_mean(255.0 * (x - y).abs(), _weights("mask", mask, x))


def psnr(x: torch.Tensor, y: torch.Tensor, *, mask: torch.Tensor | None = None, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio ``10 log10(L² / MSE)`` in dB, the MSE over the (masked) pixels and channels.

    Args:
        x: (B, C, H, W) images.
        y: (B, C, H, W) reference images.
        mask: optional (B, 1, H, W) weights.
        data_range: L, the peak value (1 for images in [0, 1]).

    Returns:
        (B,) PSNR in dB, capped at :data:`PSNR_CAP_DB` (identical images) so that it stays finite.
    """
    sizes: dict[str, int] = {}
    check_tensor("x", x, ("B", "C", "H", "W"), sizes)
    check_tensor("y", y, ("B", "C", "H", "W"), sizes)
    mse = _masked_mean((x - y) ** 2, _weights("mask", mask, x))
    return (10 * torch.log10(data_range**2 / mse)).clamp(max=PSNR_CAP_DB)


def detail_ratio(x: torch.Tensor, y: torch.Tensor, *, mask: torch.Tensor | None = None) -> torch.Tensor:
    """How much fine detail ``x`` has against the reference ``y``: ``Σ_q m(q) g_x(q) / Σ_q m(q) g_y(q)``, with
    g(q) = Σ_c |I_c(q + e_x) − I_c(q)| + |I_c(q + e_y) − I_c(q)| the forward differences to the right and down
    neighbours, counted where q and both neighbours lie in the mask (min of the three weights).

    Args:
        x: (B, C, H, W) images.
        y: (B, C, H, W) reference images.
        mask: optional (B, 1, H, W) weights (e.g. the face region).

    Returns:
        (B,) ratios: 1 when x is as detailed as y, < 1 blurrier, > 1 noisier (NaN where y has no gradient
        inside the mask).
    """
    sizes: dict[str, int] = {}
    check_tensor("x", x, ("B", "C", "H", "W"), sizes)
    check_tensor("y", y, ("B", "C", "H", "W"), sizes)
    m = _weights("mask", mask, x)
    inner = torch.minimum(torch.minimum(m[..., :-1, :-1], m[..., 1:, :-1]), m[..., :-1, 1:])

    def gradient(image: torch.Tensor) -> torch.Tensor:
        core = image[..., :-1, :-1]
        return ((image[..., :-1, 1:] - core).abs() + (image[..., 1:, :-1] - core).abs()).sum(1, keepdim=True)

    return (gradient(x) * inner).flatten(1).sum(1) / (gradient(y) * inner).flatten(1).sum(1)
