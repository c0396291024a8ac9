"""The ``classical`` blender: colour transfer and a feathered seam, no learned weights.

What editing uses when no BSN weights are given. Two steps, both per sample:

1. Colour matching (per-channel mean/std transfer, Reinhard-style in RGB): R is shifted and scaled so that
   its mean and standard deviation inside M̂ equal those of the appearance frame inside M̂ — the face
   region of the frame being edited, which has the skin tone and lighting the new face must take (a ring
   around the mask would mix in hair and background). Statistics are weighted by M̂
   (:func:`tfvsdk.nn.masked_mean_std`); the gain σ_X/σ_R is clamped to [1/max_gain, max_gain].
2. Compositing: Y = X_p + A (R' − X_p), with A the feathered mask: M̂ eroded by r pixels (square
   structuring element) and then box-blurred with radius r. A rises from 0 on M̂'s border to 1 at 2r
   pixels inside, and is exactly 0 wherever M̂ = 0, so every pixel outside M̂ is exactly the appearance
   frame. The image border does not count as outside (a face cut by the frame is not feathered there).

r = max(1, round(feather · min(H, W))). The hint M is not used: outside M̂ the output is the appearance
frame, the frame the composition blends onto.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import tfvsdk
from tfvsdk.nn import masked_mean_std


def feathered_mask(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """The blending weight A of a (B, 1, H, W) mask: erosion by ``radius`` then a box blur of ``radius``.

    Both steps are separable (row then column). The result is 0 wherever ``mask`` is 0 and lies in [0, 1].
    """
    k = 2 * radius + 1
    eroded = -F.max_pool2d(-mask, (1, k), stride=1, padding=(0, radius))
    eroded = -F.max_pool2d(-eroded, (k, 1), stride=1, padding=(radius, 0))
    blurred = F.avg_pool2d(eroded, (1, k), stride=1, padding=(0, radius), count_include_pad=False)
    return F.avg_pool2d(blurred, (k, 1), stride=1, padding=(radius, 0), count_include_pad=False)


class ClassicalBlender(tfvsdk.Blender):
    """Colour-matched, feathered paste of R onto the appearance frame (see the module docstring).

    Args:
        feather: seam width as a fraction of the frame's shorter side (r above); 0.025 is 6 px at 256².
        max_gain: bound of the per-channel contrast gain of the colour transfer.

    Example:
        >>> blender = tfvsdk.create("blender", "classical")
        >>> mask = torch.zeros(1, 1, 64, 64); mask[..., 16:48, 20:44] = 1
        >>> frame = torch.rand(1, 3, 64, 64)
        >>> y = blender.blend(torch.rand(1, 3, 64, 64) * mask, frame, frame * (1 - mask), mask)
        >>> bool((y[mask.expand_as(y) == 0] == frame[mask.expand_as(y) == 0]).all())
        True
    """

    def __init__(self, feather: float = 0.025, max_gain: float = 3.0) -> None:
        if not 0 <= feather < 0.5:
            raise tfvsdk.InputError(f"feather: expected a fraction of the frame size in [0, 0.5), got {feather!r}")
        if not max_gain >= 1:
            raise tfvsdk.InputError(f"max_gain: expected a gain ≥ 1, got {max_gain!r}")
        self.feather = feather
        self.max_gain = max_gain

    def _blend(
        self, rendered: torch.Tensor, appearance: torch.Tensor, hint: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Blend (shapes and ranges as :meth:`tfvsdk.Blender.blend`); the output follows the inputs' device."""
        mean_r, std_r, _ = masked_mean_std(rendered, mask)
        mean_x, std_x, _ = masked_mean_std(appearance, mask)
        gain = (std_x / std_r).clamp(1 / self.max_gain, self.max_gain)
        matched = (rendered - mean_r) * gain + mean_x
        radius = max(1, round(self.feather * min(mask.shape[-2:])))
        weight = feathered_mask(mask, radius)
        blended = (appearance + weight * (matched - appearance)).clamp(0, 1)
        return torch.where(weight > 0, blended, appearance)
