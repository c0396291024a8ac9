"""``unet-lite``: a small trainable blender Y = M̂ ⊙ G(R, E(X_p, M), M̂) + (1 − M̂) ⊙ X_p.

E encodes the appearance frame and its hint to a code at a quarter of the resolution; G reads the rendered
face and the mask at full resolution, adds the upsampled code and predicts the face's pixels; outside the
mask the output is the appearance frame. D is a stack of PatchGANs at ``scales`` resolutions. Group norm
only, so batch items never mix (the contract kit checks it).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import tfvsdk


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.GroupNorm(1, cout), nn.LeakyReLU(0.2))


class AppearanceEncoder(nn.Module):
    """E(appearance (B, 3, H, W), hint (B, 3, H, W)) → (B, width, H/4, W/4)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(_block(6, width, 2), _block(width, width, 2))

    def forward(self, appearance: torch.Tensor, hint: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.cat([appearance, hint], 1))


class PatchDiscriminators(nn.Module):
    """D(image (B, 3, H, W) in [0, 1]) → one (B, 1, h, w) logit map per scale, finest first."""

    def __init__(self, width: int, scales: int) -> None:
        super().__init__()
        self.scales = nn.ModuleList(
            nn.Sequential(nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(width, 1, 3, 1, 1)) for _ in range(scales)
        )

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x, logits = image * 2 - 1, []
        for k, scale in enumerate(self.scales):
            if k:
                x = F.avg_pool2d(x, 2)
            logits.append(scale(x))
        return logits


class UNetLite(tfvsdk.TrainableBlender):
    """A small trainable blender (see the module docstring).

    Args:
        width: channels of E and G (settable with ``--opt blender.width=8``).
        scales: number of D's scales.

    Example:
        >>> blender = tfvsdk.create("blender", "unet-lite", width=8)  # doctest: +SKIP
        >>> blender.save_pretrained("runs/unet")  # doctest: +SKIP
    """

    def __init__(self, width: int = 16, scales: int = 2) -> None:
        super().__init__()
        if width < 1 or scales < 1:
            raise tfvsdk.InputError(f"width and scales: expected integers >= 1, got {width}, {scales}")
        self.width, self.scales = int(width), int(scales)
        self.embedder = AppearanceEncoder(self.width)
        self.face = nn.Sequential(_block(4 + self.width, self.width), _block(self.width, self.width), nn.Conv2d(self.width, 3, 3, padding=1))
        self.discriminator = None

    def get_config(self) -> dict[str, Any]:
        return {"width": self.width, "scales": self.scales}

    def build_discriminator(self) -> PatchDiscriminators:
        return PatchDiscriminators(self.width, self.scales)

    def _blend(self, rendered: torch.Tensor, appearance: torch.Tensor, hint: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        code = F.interpolate(self.embedder(appearance, hint), size=rendered.shape[-2:], mode="bilinear", align_corners=False)
        face = torch.sigmoid(self.face(torch.cat([rendered, mask, code], 1)))
        return mask * face + (1 - mask) * appearance
