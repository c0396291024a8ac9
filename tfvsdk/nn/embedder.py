"""The appearance embedder E(X_p, M) → P (paper §3.3).

E reads the appearance frame X_p and its appearance hint M = X (1 − M̂) and returns a low-resolution
feature map P that the generator's BSN layers (eq. 4) use as the style Q. Architecture (one row per layer,
s = stride; LReLU = LeakyReLU(0.2)):

| layer | kernel, stride | channels | resolution |
|---|---|---|---|
| input [X_p, M] mapped to [−1, 1] | | 6 | H × W |
| conv, LReLU (reflect padding) | 7×7, s1 | c | H × W |
| n_down × (conv, LReLU) | 3×3, s2 | c·2, …, c·2^n_down | ⌈H/2^k⌉ × ⌈W/2^k⌉ |
| conv | 3×3, s1 | embed_channels | ⌈H/2^n_down⌉ × ⌈W/2^n_down⌉ |

P has the resolution of the generator's bottleneck. E has no normalisation layer: instance norm would
remove exactly the per-channel colour statistics that carry the appearance.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import check_tensor
from ..errors import InputError


class Embedder(nn.Module):
    """E(X_p, M): appearance frame and hint → low-resolution appearance embedding P.

    Args:
        base_channels: c, the channels of the first layer.
        n_down: number of stride-2 convolutions (P is 2^n_down times smaller than the input).
        embed_channels: channels of P.

    Example:
        >>> e = Embedder(base_channels=8, n_down=2, embed_channels=16)
        >>> e(torch.rand(1, 3, 64, 48), torch.rand(1, 3, 64, 48)).shape
        torch.Size([1, 16, 16, 12])
    """

    def __init__(self, base_channels: int = 32, n_down: int = 2, embed_channels: int = 128) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(6, base_channels, 7, padding=3, padding_mode="reflect"),
            nn.LeakyReLU(0.2),
        ]
        channels = base_channels
        for _ in range(n_down):
            layers += [nn.Conv2d(channels, channels * 2, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            channels *= 2
        layers.append(nn.Conv2d(channels, embed_channels, 3, padding=1))
        self.layers = nn.Sequential(*layers)
        self.n_down = n_down
        self.embed_channels = embed_channels

    def forward(self, appearance: torch.Tensor, hint: torch.Tensor) -> torch.Tensor:
        """Embed.

        Args:
            appearance: (B, 3, H, W) appearance frame X_p in [0, 1] (H, W ≥ 4).
            hint: (B, 3, H, W) appearance hint M in [0, 1].

        Returns:
            (B, embed_channels, ⌈H/2^n_down⌉, ⌈W/2^n_down⌉) appearance embedding P.
        """
        sizes: dict[str, int] = {}
        check_tensor("appearance", appearance, ("B", 3, "H", "W"), sizes, finite=False)
        check_tensor("hint", hint, ("B", 3, "H", "W"), sizes, finite=False)
        if min(sizes["H"], sizes["W"]) < 4:
            raise InputError(f"appearance: expected height and width ≥ 4, got {sizes['H']}×{sizes['W']}")
        return self.layers(torch.cat([appearance, hint], dim=1) * 2 - 1)
