"""Bidirectional spatial-aware normalisation, BSN (paper eq. 4), and its "w/o BSN" ablation (plain AdaIN).

BSN(X, Q, H) = α·T(XH, QH̄) + β·T(XH̄, QH) + (1 − α)·XH + (1 − β)·XH̄        (eq. 4)

with T the AdaIN of eq. 5 (:func:`tfvsdk.nn.adain.adain`), H the face mask M̂ resized to X's size,
H̄ = 1 − H, and Q the appearance embedding P resized to X's size. The face region XH takes the statistics
of Q outside the face, the non-face region XH̄ those of Q inside the face, and α, β (per channel, in [0, 1])
balance transfer against retention.

Interpretations (the paper leaves these open):

* A product such as XH is a *masked map*: T takes its μ, σ over H weighted by H, and T's result is again
  supported on H (see :mod:`tfvsdk.nn.adain`). So each of the four terms lives on its own region and, for
  a binary H, BSN is α·AdaIN + (1 − α)·X inside the face and β·AdaIN + (1 − β)·X outside it.
  (Read as a pointwise function of the product, T would add the constant μ(B) − σ(B)μ(A)/σ(A) outside
  the region, which grows without bound as σ(A) → 0.)
* Limits: α = β = 0 gives X. A degenerate mask (H ≡ 1 or H ≡ 0) leaves one style region empty; T then
  transfers nothing, so BSN(X, Q, 1) = BSN(X, Q, 0) = X whatever α and β.
* Channels: P has ``embed_channels``; each BSN layer maps it to X's channel count with its own learned
  1×1 convolution before resizing (the paper does not say how the channel counts are matched).
* Resizing: :func:`resize` — area averaging when shrinking (a soft H at mask edges), bilinear otherwise.
* α = sigmoid(a), β = sigmoid(b) with free parameters a, b initialised to logit(0.8) and logit(0.1): α and
  β stay in (0, 1) under any optimiser step, with no clamping and no dead gradients.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from .adain import adain, adain_affine

NormKind = Literal["bsn", "adain"]
NORM_KINDS: tuple[str, ...] = ("bsn", "adain")


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (B, C, H, W) to ``size``: area averaging if no side grows, else bilinear (half-pixel centres)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if size[0] <= x.shape[-2] and size[1] <= x.shape[-1]:
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def bsn(
    x: torch.Tensor,
    q: torch.Tensor,
    h: torch.Tensor,
    alpha: torch.Tensor,
    beta: torch.Tensor,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Eq. 4 on maps of equal size.

    Args:
        x: (B, C, H, W) features X.
        q: (B, C, H, W) appearance features Q.
        h: (B, 1, H, W) face mask H in [0, 1].
        alpha: (C,) transfer weight of the face region, in [0, 1].
        beta: (C,) transfer weight of the non-face region, in [0, 1].
        eps: variance guard of T.

    Returns:
        (B, C, H, W) BSN(X, Q, H).
    """
    h_bar = 1 - h
    a = alpha.view(1, -1, 1, 1)
    b = beta.view(1, -1, 1, 1)
    scale_face, shift_face = adain_affine(x, q, content_mask=h, style_mask=h_bar, eps=eps)
    scale_rest, shift_rest = adain_affine(x, q, content_mask=h_bar, style_mask=h, eps=eps)
    # Eq. 4 collected per region: on H the gain is α·scale + 1 − α and the offset α·shift, on H̄ likewise
    # with β, so BSN = X · (g_rest + H (g_face − g_rest)) + (o_rest + H (o_face − o_rest)).
    gain_face, gain_rest = a * scale_face + 1 - a, b * scale_rest + 1 - b
    offset_face, offset_rest = a * shift_face, b * shift_rest
    h = h.to(gain_face.dtype)
    gain = torch.addcmul(gain_rest, h, gain_face - gain_rest)
    offset = torch.addcmul(offset_rest, h, offset_face - offset_rest)
    return torch.addcmul(offset, x.to(gain.dtype), gain).to(x.dtype)


class BSN(nn.Module):
    """The normalisation layer of the generator: BSN (eq. 4) or, with ``kind="adain"``, plain AdaIN.

    Args:
        channels: C, the channels of the features X it normalises.
        embed_channels: channels of the appearance embedding P.
        kind: ``"bsn"`` (eq. 4) or ``"adain"`` (T(X, Q) over whole maps, the paper's "w/o BSN").
        alpha_init: initial α (paper: 0.8).
        beta_init: initial β (paper: 0.1).
        eps: variance guard of T.

    Example:
        >>> layer = BSN(16, embed_channels=32)
        >>> x, p, mask = torch.randn(2, 16, 32, 32), torch.randn(2, 32, 8, 8), torch.ones(2, 1, 64, 64)
        >>> layer(x, p, mask).shape
        torch.Size([2, 16, 32, 32])
    """

    def __init__(
        self,
        channels: int,
        embed_channels: int,
        *,
        kind: NormKind = "bsn",
        alpha_init: float = 0.8,
        beta_init: float = 0.1,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if kind not in NORM_KINDS:
            raise InputError(f"BSN kind: expected one of {NORM_KINDS}, got {kind!r}")
        self.kind = kind
        self.eps = eps
        self.project = nn.Conv2d(embed_channels, channels, kernel_size=1)
        if kind == "bsn":
            self.alpha_logit = nn.Parameter(torch.full((channels,), math.log(alpha_init / (1 - alpha_init))))
            self.beta_logit = nn.Parameter(torch.full((channels,), math.log(beta_init / (1 - beta_init))))

    @property
    def alpha(self) -> torch.Tensor:
        """(C,) α in (0, 1) (BSN only)."""
        return torch.sigmoid(self.alpha_logit)

    @property
    def beta(self) -> torch.Tensor:
        """(C,) β in (0, 1) (BSN only)."""
        return torch.sigmoid(self.beta_logit)

    def forward(self, x: torch.Tensor, p: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` (B, C, H, W) with the embedding ``p`` (B, E, h, w) and face mask ``mask`` (B, 1, H', W')."""
        q = resize(self.project(p), x.shape[-2:])
        if self.kind == "adain":
            return adain(x, q, eps=self.eps)
        return bsn(x, q, resize(mask, x.shape[-2:]), self.alpha, self.beta, self.eps)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"
