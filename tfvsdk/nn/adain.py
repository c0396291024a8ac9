"""Adaptive instance normalisation T(A, B) (paper eq. 5) over masked regions.

T(A, B) = σ(B) (A − μ(A)) / σ(A) + μ(B): the content A takes the per-channel mean and standard deviation
of the style B. BSN (eq. 4, :mod:`tfvsdk.nn.bsn`) applies T to *masked* maps such as XH, so here a map
comes with an optional mask and its statistics are taken over the mask only.

Masked statistics (per sample and channel), for a map X (B, C, H, W) and a mask W (B, 1, H, W) ≥ 0:

* mass m = Σ_p W_p (in pixels);
* μ = Σ_p W_p X_p / m, and var = Σ_p W_p (X_p − μ)² / m (the population variance, weighted by the mask);
* σ = sqrt(var + eps), eps = 1e-5 by default, so a region of constant value (var = 0) gives σ = sqrt(eps)
  instead of a division by zero;
* a mask with m ≤ :data:`EMPTY_MASS` is *empty*: μ = 0 and var = 0 there (no NaN).

A masked map XW is represented by the pair (X, W): its statistics are those of X weighted by W, and T of
a masked map is again a masked map, T(XW, ·) = W · (σ(B) (X − μ) / σ + μ(B)). Without a mask the whole
map is the region and T is the plain AdaIN of Huang & Belongie.

Empty regions: when the style region is empty there is nothing to transfer and T returns the content
unchanged (W · X; the content's own statistics stand in for the style's). When the content region is
empty, T is W · (…) = 0.
"""

from __future__ import annotations

import torch
from torch import nn

EMPTY_MASS = 1e-6
"""A mask whose total weight (in pixels) is at most this is treated as empty."""


def masked_mean_std(
    x: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-5
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and standard deviation of ``x`` over a (soft) mask.

    The weighted sums are batched matrix products (B, C, HW) @ (B, HW, 1), so no weighted copy of ``x``
    is made; the variance is the weighted mean of (x − μ)², not E[x²] − μ², to stay exact in float32.

    Args:
        x: (B, C, H, W) feature map.
        mask: (B, 1, H, W) weights ≥ 0 (1 inside the region), or None for the whole map.
        eps: added to the variance before the square root.

    Returns:
        ``(mean, std, nonempty)``: mean and std (B, C, 1, 1) as defined in the module docstring, and
        ``nonempty`` (B, 1, 1, 1) bool, False where the mask's mass is ≤ :data:`EMPTY_MASS`.
    """
    if mask is None:
        var, mean = torch.var_mean(x, dim=(2, 3), correction=0, keepdim=True)
        nonempty = torch.ones(x.shape[0], 1, 1, 1, dtype=torch.bool, device=x.device)
        return mean, (var + eps).sqrt(), nonempty
    mass = mask.sum(dim=(2, 3), keepdim=True)
    nonempty = mass > EMPTY_MASS
    weights = torch.where(nonempty, mask / torch.where(nonempty, mass, torch.ones_like(mass)), torch.zeros_like(mask))
    columns = weights.flatten(2).transpose(1, 2)
    mean = torch.bmm(x.flatten(2), columns).unsqueeze(-1)
    var = torch.bmm((x - mean).square().flatten(2), columns).unsqueeze(-1)
    return mean, (var + eps).sqrt(), nonempty


def adain_affine(
    content: torch.Tensor,
    style: torch.Tensor,
    *,
    content_mask: torch.Tensor | None = None,
    style_mask: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """T of eq. 5 as a per-channel affine map: T(A, B) = mask · (scale · X + shift) (see :func:`adain`).

    Returns:
        ``(scale, shift)``, each (B, C, 1, 1) in float32 at least: scale = σ_s / σ_c and
        shift = μ_s − scale · μ_c; (1, 0) where the style region is empty.
    """
    compute = torch.promote_types(content.dtype, torch.float32)
    content, style = content.to(compute), style.to(compute)
    content_mask = None if content_mask is None else content_mask.to(compute)
    style_mask = None if style_mask is None else style_mask.to(compute)
    mean_c, std_c, _ = masked_mean_std(content, content_mask, eps)
    mean_s, std_s, style_nonempty = masked_mean_std(style, style_mask, eps)
    scale = torch.where(style_nonempty, std_s / std_c, torch.ones_like(std_c))
    shift = torch.where(style_nonempty, mean_s - scale * mean_c, torch.zeros_like(mean_c))
    return scale, shift


def adain(
    content: torch.Tensor,
    style: torch.Tensor,
    *,
    content_mask: torch.Tensor | None = None,
    style_mask: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """T(A, B) of eq. 5 with A = content · content_mask and B = style · style_mask.

    Args:
        content: (B, C, H, W) map X of the content A = X · content_mask.
        style: (B, C, Hs, Ws) map Q of the style B = Q · style_mask (its size may differ from the content's).
        content_mask: (B, 1, H, W) weights in [0, 1], or None (the whole map).
        style_mask: (B, 1, Hs, Ws) weights in [0, 1], or None (the whole map).
        eps: variance guard (see the module docstring).

    Returns:
        (B, C, H, W): content_mask · (σ_s (X − μ_c) / σ_c + μ_s), or without a content mask the plain
        AdaIN, in the content's dtype. Where the style region is empty the result is content_mask · X.
        Statistics are computed in float32 at least, so half-precision features (autocast) stay accurate.
    """
    scale, shift = adain_affine(content, style, content_mask=content_mask, style_mask=style_mask, eps=eps)
    out = torch.addcmul(shift, scale, content.to(scale.dtype))
    return (out if content_mask is None else out * content_mask.to(out.dtype)).to(content.dtype)


class AdaIN(nn.Module):
    """Plain AdaIN, T(X, Q) of eq. 5 over whole maps (no parameters).

    Example:
        >>> x, q = torch.randn(2, 8, 16, 16), torch.randn(2, 8, 4, 4)
        >>> AdaIN()(x, q).shape
        torch.Size([2, 8, 16, 16])
    """

    def __init__(self, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """Give ``x`` (B, C, H, W) the per-channel mean and std of ``q`` (B, C, Hq, Wq)."""
        return adain(x, q, eps=self.eps)
