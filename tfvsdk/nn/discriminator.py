"""pix2pixHD's multi-scale PatchGAN discriminator D (paper §3.3, ref. [27]).

K copies of a PatchGAN run on the image downsampled 0, 1, …, K−1 times (3×3 average pooling, stride 2,
padding excluded from the average, as pix2pixHD). Each returns a map of real/fake logits, one per
overlapping patch; the hinge losses of :mod:`tfvsdk.losses` average them. One PatchGAN (d = base
channels, n = ``n_layers``, LReLU = LeakyReLU(0.2), N = the normalisation of ``norm``):

| layer | kernel, stride, padding | channels |
|---|---|---|
| conv, LReLU | 4×4, s2, p2 | d |
| (n − 1) × (conv, N, LReLU) | 4×4, s2, p2 | min(d·2^k, 8d), k = 1 … n−1 |
| conv, N, LReLU | 4×4, s1, p2 | min(d·2^n, 8d) |
| conv | 4×4, s1, p2 | 1 (logits) |

Normalisation (``norm``): ``"spectral"`` (default) puts spectral normalisation (Miyato et al. 2018) on every
convolution, as SN-GAN, SAGAN and BigGAN discriminators do, and has no other normalisation layer: it bounds
D's Lipschitz constant and so the size of the generator's adversarial gradient. ``"instance"`` is
pix2pixHD's instance norm (no affine parameters, no spectral norm). Measured at initialisation (small
preset, 64², batch 4 of video pairs): the norm of 10·∇_Y L_adv is 4.1 with instance norm, 90× that of
10·∇_Y L_rec (0.045), which at the paper's α = 10 collapses G within 200 steps; with spectral norm it is
0.024, the same order as L_rec's (docs/training.md, "Loss scales").

The paper writes D(Y, X_i) for the pair it compares but eq. 8 evaluates D on one image at a time, so D is
unconditional by default; to condition it, concatenate the condition to the image and set ``in_channels``.
"""

from __future__ import annotations


from typing import Any

import attrs
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..checks import check_tensor, positive_int
from ..errors import InputError


def _norm(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value not in ("spectral", "instance"):
        raise InputError(f"DiscriminatorConfig.norm: expected 'spectral' or 'instance', got {value!r}")


@attrs.frozen
class DiscriminatorConfig:
    """Shape of the multi-scale discriminator.

    Attributes:
        in_channels: channels of the images it judges (3; more if a condition is concatenated).
        base_channels: d, channels of the first layer (pix2pixHD: 64).
        n_layers: stride-2 layers of each PatchGAN (pix2pixHD: 3; receptive field 70 px for 3).
        n_scales: K, the number of scales (pix2pixHD's code default: 2).
        norm: ``"spectral"`` (spectral norm on every convolution, no normalisation layer) or ``"instance"``
            (pix2pixHD's instance norm); see the module docstring.
    """

    in_channels: int = attrs.field(default=3, validator=positive_int)
    base_channels: int = attrs.field(default=64, validator=positive_int)
    n_layers: int = attrs.field(default=3, validator=positive_int)
    n_scales: int = attrs.field(default=2, validator=positive_int)
    norm: str = attrs.field(default="spectral", validator=_norm)


class PatchDiscriminator(nn.Module):
    """One PatchGAN: (B, in_channels, H, W) → (B, 1, h, w) logits (see the module docstring)."""

    def __init__(self, in_channels: int = 3, base_channels: int = 64, n_layers: int = 3, norm: str = "spectral") -> None:
        super().__init__()
        spectral = norm == "spectral"

        def conv(cin: int, cout: int, stride: int) -> nn.Module:
            layer = nn.Conv2d(cin, cout, 4, stride=stride, padding=2)
            return spectral_norm(layer) if spectral else layer

        d = base_channels
        layers: list[nn.Module] = [conv(in_channels, d, 2), nn.LeakyReLU(0.2)]
        channels = d
        for k in range(1, n_layers + 1):
            out = min(d * 2**k, 8 * d)
            layers.append(conv(channels, out, 2 if k < n_layers else 1))
            if not spectral:
                layers.append(nn.InstanceNorm2d(out))
            layers.append(nn.LeakyReLU(0.2))
            channels = out
        layers.append(conv(channels, 1, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, features: bool = False) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits (B, 1, h, w); with ``features``, also the output of every LeakyReLU before the last
        convolution (the n + 1 intermediate feature maps that feature matching compares)."""
        if not features:
            return self.layers(image)
        maps = []
        x = image
        for layer in self.layers:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                maps.append(x)
        return x, maps


class MultiScaleDiscriminator(nn.Module):
    """D: K PatchGANs on the image at scales 1, 1/2, …, 1/2^(K−1).

    Args:
        config: channels, depth and number of scales.

    Example:
        >>> d = MultiScaleDiscriminator(DiscriminatorConfig(base_channels=8, n_scales=2))
        >>> for logits in d(torch.rand(2, 3, 64, 64)):
        ...     print(tuple(logits.shape))
        (2, 1, 11, 11)
        (2, 1, 7, 7)
    """

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DiscriminatorConfig()
        self.scales = nn.ModuleList(
            PatchDiscriminator(config.in_channels, config.base_channels, config.n_layers, config.norm)
            for _ in range(config.n_scales)
        )

    def forward(
        self, image: torch.Tensor, features: bool = False
    ) -> list[torch.Tensor] | tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        """Judge ``image`` (B, in_channels, H, W), values in [0, 1] (mapped to [−1, 1] inside).

        Args:
            image: the images to judge.
            features: also return each scale's intermediate feature maps (for
                :func:`tfvsdk.losses.feature_matching_loss`, pix2pixHD's eq. 4).

        Returns:
            K logit maps (B, 1, h_k, w_k), finest scale first; positive means "real". With ``features``,
            ``(logits, feats)`` where ``feats[k]`` lists scale k's n + 1 maps (B, C_l, h_l, w_l), first layer
            first (each the output of a LeakyReLU).
        """
        check_tensor("image", image, (None, self.config.in_channels, None, None), finite=False)
        x = image * 2 - 1
        logits, feats = [], []
        for k, scale in enumerate(self.scales):
            if k:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            if features:
                out, maps = scale(x, features=True)
                logits.append(out)
                feats.append(maps)
            else:
                logits.append(scale(x))
        return (logits, feats) if features else logits
