"""A seam measure: how much stronger the image edges are along a face's vertical midline than beside it.

A texture completed by mirroring one half of the face onto the other, when the two halves differ in colour
or light, shows a vertical seam down the middle of the face. :func:`midline_seam` measures it as

    S = E(0) / ½ (E(−d) + E(+d)),   E(o) = mean over the midline points p of Σ_c |I_c(p + o + ½) − I_c(p + o − ½)|,

the mean horizontal gradient magnitude on the midline (shifted by o pixels sideways) relative to that of
the two parallel curves ``offset`` pixels to its left and right. A face without a seam has S ≈ 1 (the nose
ridge adds a little); a step down the middle gives S ≫ 1. Compare an edit's S with its sources' to separate
a seam from the face's own structure: the frame it was pasted into, and the photo its texture came from (at
that photo's own fit), whose nose ridge highlight or, on a turned face, nose edge near the midline comes
with the texture. A seam is midline edge that neither source has: S over the larger of the two.
"""

from __future__ import annotations

import torch

from .checks import check_tensor
from .morphable import MorphableModel
from .texture import _sample as sample_at


def midline_points(model: MorphableModel, screen_vertices: torch.Tensor) -> torch.Tensor:
    """(B, M, 2) screen positions of the model's midline vertices (those that are their own mirror)."""
    midline = (model.symmetry == torch.arange(model.n_vertices, device=model.symmetry.device)).nonzero()[:, 0]
    return screen_vertices[:, midline, :2]


def midline_seam(image: torch.Tensor, points: torch.Tensor, *, offset: float = 4.0) -> torch.Tensor:
    """The seam measure S of the module docstring.

    Args:
        image: (B, C, H, W) images.
        points: (B, M, 2) midline points in pixels (x right, y down; pixel centres at +0.5), e.g.
            :func:`midline_points` of the fitted mesh.
        offset: sideways distance d of the two reference curves, in pixels.

    Returns:
        (B,) S per image.
    """
    sizes: dict[str, int] = {}
    check_tensor("image", image, ("B", "C", "H", "W"), sizes)
    check_tensor("points", points, ("B", "M", 2), sizes)

    def energy(shift: float) -> torch.Tensor:
        right = sample_at(image, (points + points.new_tensor([shift + 0.5, 0.0]))[:, None])[:, :, 0]
        left = sample_at(image, (points + points.new_tensor([shift - 0.5, 0.0]))[:, None])[:, :, 0]
        return (right - left).abs().sum(1).mean(-1)

    return energy(0.0) / (0.5 * (energy(-offset) + energy(offset))).clamp(min=1e-12)
