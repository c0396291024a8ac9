"""Colour outliers: the share of an edited face whose colour none of its sources shows.

Not one of the paper's metrics. D(identity), E_id and E_tmp do not see blotches: an orange eye shadow, a
cyan forehead or a red band on the lips left by a colour transfer leave the identity descriptor and the
warping error almost where they were. A faithful edit shows colours its sources show: the frame it was
pasted into (its skin, lips, brows under that frame's light) and the identity photo (its skin tone, kept by
``tone="identity"``). :func:`colour_outlier_map` marks a pixel of the edited face as an outlier when its
colour lies outside every reference's usual colours:

* colour = the log-chromaticity (log (r + ε)/(g + ε), log (b + ε)/(g + ε)), ε = 0.02, of the image
  smoothed by a Gaussian of σ = ``blur`` pixels inside its mask (normalised convolution: no background
  mixed in), so that JPEG noise and single pixels do not count and a blotch does;
* a reference's usual colours = the smallest region of that plane that holds ``coverage`` of its masked
  pixels: its 2-D histogram (bins of 0.04, ±4 in each axis) smoothed by a Gaussian of 1.5 bins, cut at the
  density that ``1 − coverage`` of its own pixels fall below (a highest-density region);
* an outlier lies outside that region for every reference.

Brightness is left out on purpose: an identity's skin under the target's light is brighter or darker
than in either source by design. So a face that is only too pale or too dark is not an outlier; a
face whose colour has turned (orange, red, green, cyan) is. By construction a reference judged against
itself has at most ``1 − coverage`` outliers (1 %).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..checks import check_tensor
from ..errors import InputError

__all__ = ["colour_outlier_map", "colour_outliers", "log_chromaticity"]

EPSILON = 0.02
EXTENT = 4.0
BINS = 200
DENSITY_BLUR_BINS = 1.5


def log_chromaticity(image: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) (log (r + ε)/(g + ε), log (b + ε)/(g + ε)) of (B, 3, H, W) ``image`` in [0, 1]."""
    r, g, b = image.clamp(0, 1).unbind(1)
    return torch.stack([torch.log((r + EPSILON) / (g + EPSILON)), torch.log((b + EPSILON) / (g + EPSILON))], 1)


def _gaussian(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(B, C, H, W) ``x`` blurred by a separable Gaussian of ``sigma`` (pixels), edges replicated."""
    if sigma <= 0:
        return x
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _colour_bins(image: torch.Tensor, mask: torch.Tensor, blur: float) -> torch.Tensor:
    """(B, H·W) flat histogram bin of each pixel's smoothed log-chromaticity."""
    weight = _gaussian(mask, blur)
    smooth = _gaussian(image * mask, blur) / weight.clamp(min=1e-6)
    index = ((log_chromaticity(smooth) + EXTENT) * (BINS / (2 * EXTENT))).long().clamp(0, BINS - 1)
    return (index[:, 0] * BINS + index[:, 1]).flatten(1)


def _usual_colours(image: torch.Tensor, mask: torch.Tensor, coverage: float, blur: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A reference's (B, BINS²) colour density and its (B,) highest-density-region threshold."""
    bins = _colour_bins(image, mask, blur)
    inside = mask.flatten(1) > 0.5
    histogram = torch.zeros(len(bins), BINS * BINS, dtype=image.dtype, device=image.device)
    histogram.scatter_add_(1, bins, inside.to(image.dtype))
    density = _gaussian(histogram.view(-1, 1, BINS, BINS), DENSITY_BLUR_BINS).view(len(bins), -1)
    own = torch.gather(density, 1, bins)
    threshold = torch.stack([torch.quantile(d[m], 1 - coverage, interpolation="lower") for d, m in zip(own, inside)])
    return density, threshold


def colour_outlier_map(
    image: torch.Tensor,
    mask: torch.Tensor,
    references: Sequence[tuple[torch.Tensor, torch.Tensor]],
    *,
    coverage: float = 0.99,
    blur: float = 1.5,
) -> torch.Tensor:
    """The colour outliers of the module docstring, per pixel.

    Args:
        image: (B, 3, H, W) edited frames in [0, 1].
        mask: (B, 1, H, W) the edited face in each frame (> 0.5 inside), e.g. the rendered mask M̂ of the
            composition.
        references: (reference, reference_mask) pairs: (B or 1, 3, H', W') images in [0, 1] and (B or 1, 1,
            H', W') masks of their faces — the frames the faces were pasted into (B, one per output frame),
            the identity photo (1, shared by all frames). Each needs a face pixel.
        coverage: the share of a reference's own face pixels that count as its usual colours.
        blur: σ of the Gaussian the colours are smoothed with before the test (pixels).

    Returns:
        (B, 1, H, W) bool, True on the face's outliers.

    Raises:
        InputError: wrong shapes, no reference, an empty reference mask, ``coverage`` outside (0, 1).
    """
    sizes: dict[str, int] = {}
    check_tensor("image", image, ("B", 3, "H", "W"), sizes)
    check_tensor("mask", mask, (sizes["B"], 1, sizes["H"], sizes["W"]))
    if not references:
        raise InputError("references: expected at least one (image, mask) pair, got none")
    if not 0 < coverage < 1:
        raise InputError(f"coverage: expected a share in (0, 1), got {coverage!r}")
    bins = _colour_bins(image, mask, blur)
    usual = torch.zeros_like(bins, dtype=torch.bool)
    for k, (reference, reference_mask) in enumerate(references):
        ref_sizes: dict[str, int] = {}
        check_tensor(f"references[{k}] image", reference, ("R", 3, "h", "w"), ref_sizes)
        check_tensor(f"references[{k}] mask", reference_mask, (ref_sizes["R"], 1, ref_sizes["h"], ref_sizes["w"]))
        if ref_sizes["R"] not in (1, sizes["B"]):
            raise InputError(f"references[{k}]: expected 1 or {sizes['B']} images (one per frame), got {ref_sizes['R']}")
        if bool(((reference_mask.flatten(1) > 0.5).sum(1) == 0).any()):
            raise InputError(f"references[{k}] mask: a reference image has no face pixel (mask > 0.5)")
        density, threshold = _usual_colours(reference.to(image.dtype), reference_mask.to(image.dtype), coverage, blur)
        density, threshold = density.expand(sizes["B"], -1), threshold.expand(sizes["B"])
        usual |= torch.gather(density, 1, bins) >= threshold[:, None]
    return (~usual).view_as(mask) & (mask > 0.5)


def colour_outliers(
    image: torch.Tensor,
    mask: torch.Tensor,
    references: Sequence[tuple[torch.Tensor, torch.Tensor]],
    *,
    coverage: float = 0.99,
    blur: float = 1.5,
) -> torch.Tensor:
    """(B,) the share of each frame's face pixels (``mask`` > 0.5) that :func:`colour_outlier_map` marks (0 for a
    frame with no face pixel); arguments as there."""
    outliers = colour_outlier_map(image, mask, references, coverage=coverage, blur=blur)
    return outliers.flatten(1).sum(1).to(image.dtype) / (mask.flatten(1) > 0.5).sum(1).clamp(min=1).to(image.dtype)
