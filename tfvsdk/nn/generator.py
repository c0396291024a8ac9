"""The generator G(R, P, M̂) → Y of the deep blending network (paper §3.3).

The image-to-image network of Johnson et al. (ref. [25]) — a 7×7 convolution, stride-2 convolutions down,
residual blocks, upsampling back, a 7×7 convolution to RGB — with every instance normalisation replaced by
BSN (eq. 4, :class:`~tfvsdk.nn.bsn.BSN`), which reads the appearance embedding P = E(X_p, M) and the face
mask M̂. Architecture for a preset with base channels c, n_down = 2 (the shipped presets):

| block | layers | channels | resolution |
|---|---|---|---|
| input | [R, M̂, M], images mapped to [−1, 1] | 7 | H × W |
| head | conv 7×7 s1 (reflect), BSN, ReLU (or LeakyReLU, ``activation``) | c | H × W |
| down ×n_down | conv 3×3 s2, BSN, ReLU | 2c, 4c | ⌈H/2⌉, ⌈H/4⌉ |
| residual ×n_res_blocks | [conv 3×3 (reflect), BSN, ReLU, conv 3×3 (reflect), BSN] + skip | 4c | ⌈H/4⌉ |
| up ×n_down | nearest upsampling to the matching encoder size (``skips``: concatenated with that level's encoder features), conv 3×3 (reflect), BSN, ReLU | 2c, c | ⌈H/2⌉, H |
| tail | conv 7×7 s1 (reflect); ``output="residual"``: Y = clamp(C + tanh(·), 0, 1) (or C + D_k(M̂)·tanh(·)), ``"direct"``: sigmoid | 3 | H × W |

Interpretations: the paper writes G(R, P, M̂); BSN passes only per-channel statistics of P, which cannot
carry the spatial layout (hair, scene) that Y must keep, so by default G also reads the hint M as input
channels (``hint_input=True``; the "auxiliary appearance hint" that §1 says the network fuses). Set
``hint_input=False`` for the literal G(R, P, M̂). Upsampling is nearest-neighbour + convolution (Johnson
uses fractionally strided convolutions; this avoids their checkerboard artefacts) to the exact size of the
matching encoder level, so any H, W ≥ 2^n_down + 1 works without padding.

Output (``GeneratorConfig.output``): §3.3 says G(R, P, M̂) *synthesises* Y. With ``output="direct"`` (the
literal reading, and what weights files saved before this option hold) the tail's sigmoid is Y, so G has
to build the whole frame — background, hair, face — from scratch through BSN layers; on a CPU budget of a
few hundred steps it only reaches a blur. With ``output="residual"`` (the default for new networks) G
synthesises Y *relative to the naive composite* C = M̂·R + (1 − M̂)·M (the rendered face pasted into the
hint M): Y = clamp(C + tanh(tail), 0, 1), the tail convolution initialised at zero so that a fresh G outputs
exactly C. This is the residual formulation of image blending / harmonisation and inpainting networks
(e.g. Tsai et al., "Deep Image Harmonization", CVPR 2017, which predicts the harmonised image from the
cut-and-paste composite; Wu et al., "GP-GAN", 2019, blends from the copy-paste image). It is still G(R, P,
M̂) synthesising Y — C is a fixed function of G's inputs R, M̂ (and the hint M) — only parameterised so
that "copy the face and the background" costs nothing and training spends its steps on the seam,
colour and lighting. The residual output needs the hint, so it requires ``hint_input=True``. Y is in
[0, 1] either way.

Activation (``GeneratorConfig.activation``): Johnson's network uses ReLU. BSN does not normalise the
features it keeps ((1 − α)·X of eq. 4) and its transferred offset comes from a learned projection of P,
so nothing keeps a layer's pre-activations centred; on the CPU recipe (32², residual output) the last
upsampling layer's ReLUs die during training — 0.6 % of its units active after 900 steps on L_rec alone,
0 % after 1000 steps of the full loss (docs/training.md, "A CPU recipe") — and with them every gradient
into G below the tail, so G freezes near the composite. ``"leaky_relu"`` (slope 0.2, as the
discriminator, StyleGAN's and SPADE's generators) keeps a gradient through every unit.

Skips (``GeneratorConfig.skips``): Johnson's network has none, so everything G changes passes through the
⌈H/4⌉ bottleneck and nearest upsampling; a fix one pixel wide at the mask's edge (where the seam is) has to
be rebuilt from 4×4-pixel cells. With ``skips=True`` each decoder layer also reads the encoder's features
of its own size (concatenated before its convolution; U-Net, as pix2pix's generator), which keep the exact
position of the edge. The default stays Johnson's network.

Residual region (``GeneratorConfig.residual_dilation``): by default the residual may change every pixel,
though outside the face the hint already holds the frame (exactly, in self-reenactment), so anything G
adds there is drift. With ``residual_dilation = k`` the residual is multiplied by the face mask dilated by
k pixels, D_k(M̂) (a (2k+1)×(2k+1) max filter): Y = clamp(C + D_k(M̂)·tanh(·), 0, 1). The k-pixel band
outside M̂ lets G still blend the seam; beyond it Y = C. This is the masked output of inpainting and
harmonisation networks that keep the known region (e.g. Yu et al., "Generative Image Inpainting with
Contextual Attention", CVPR 2018, pastes the known pixels back), applied to the residual.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from ..checks import at_most, check_tensor, positive_int
from ..errors import InputError
from .bsn import BSN, NORM_KINDS


def _norm_kind(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value not in NORM_KINDS:
        raise InputError(f"GeneratorConfig.norm: expected one of {NORM_KINDS}, got {value!r}")


OUTPUT_KINDS: tuple[str, ...] = ("residual", "direct")
ACTIVATIONS: tuple[str, ...] = ("relu", "leaky_relu")


def _activation(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value not in ACTIVATIONS:
        raise InputError(f"GeneratorConfig.activation: expected one of {ACTIVATIONS}, got {value!r}")


def _output_kind(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value not in OUTPUT_KINDS:
        raise InputError(f"GeneratorConfig.output: expected one of {OUTPUT_KINDS}, got {value!r}")
    if value == "residual" and not instance.hint_input:
        raise InputError("GeneratorConfig.output: 'residual' composites R into the hint M, so it needs hint_input=True")


def _dilation(instance: Any, attribute: attrs.Attribute, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DILATION:
        raise InputError(f"GeneratorConfig.residual_dilation: expected None or an integer in [0, {MAX_DILATION}], got {value!r}")
    if instance.output != "residual":
        raise InputError("GeneratorConfig.residual_dilation: limits the residual of output='residual'; this G is 'direct'")


MAX_DILATION = 64
MAX_CHANNELS = 4096
MAX_DOWN = 8
MAX_RES_BLOCKS = 64


@attrs.frozen
class GeneratorConfig:
    """Width, depth and normalisation of G (and of E, which shares ``base_channels`` and ``n_down``).

    Attributes:
        base_channels: c, channels of the full-resolution layers (Johnson: 32, CycleGAN/paper size: 64).
        n_down: stride-2 convolutions in G's encoder and in E.
        n_res_blocks: residual blocks at the bottleneck.
        embed_channels: channels of the appearance embedding P.
        norm: ``"bsn"`` (eq. 4) or ``"adain"`` (the paper's "w/o BSN" ablation).
        hint_input: G reads the hint M as input channels (see the module docstring).
        output: ``"residual"`` (Y = clamp(C + tanh(·)), C the composite M̂·R + (1 − M̂)·M; a fresh G
            outputs C) or ``"direct"`` (Y = sigmoid(·), what weights files without this field hold).
        residual_dilation: None (default) lets the residual change the whole frame; an integer k limits it
            to the face mask dilated by k pixels: Y = clamp(C + D_k(M̂)·tanh(·), 0, 1), D_k a (2k+1)×(2k+1)
            max filter, so every pixel farther than k from the mask is exactly the composite's (the hint's).
            Only with ``output="residual"``.
        activation: ``"relu"`` (Johnson's and the paper's G) or ``"leaky_relu"`` (slope 0.2 for x < 0) after
            every BSN; see the module docstring ("Activation").
        skips: concatenate each encoder level's features to the input of the decoder layer of the same
            size (U-Net skips, pix2pix); see the module docstring ("Skips").

    Sizes are bounded (channels ≤ 4096, ``n_down`` ≤ 8, ``n_res_blocks`` ≤ 64, far above any trained network)
    so that a damaged or hostile weights file cannot ask for terabytes before anything is checked.
    """

    base_channels: int = attrs.field(default=32, validator=[positive_int, at_most(MAX_CHANNELS)])
    n_down: int = attrs.field(default=2, validator=[positive_int, at_most(MAX_DOWN)])
    n_res_blocks: int = attrs.field(default=3, validator=[positive_int, at_most(MAX_RES_BLOCKS)])
    embed_channels: int = attrs.field(default=128, validator=[positive_int, at_most(MAX_CHANNELS)])
    norm: str = attrs.field(default="bsn", validator=_norm_kind)
    hint_input: bool = True
    output: str = attrs.field(default="residual", validator=_output_kind)
    residual_dilation: int | None = attrs.field(default=None, validator=_dilation)
    activation: str = attrs.field(default="relu", validator=_activation)
    skips: bool = False

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "small": {"base_channels": 32, "n_down": 2, "n_res_blocks": 3, "embed_channels": 128},
        "paper": {"base_channels": 64, "n_down": 2, "n_res_blocks": 9, "embed_channels": 256},
    }

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> GeneratorConfig:
        """A named preset: ``"small"`` (CPU tests) or ``"paper"`` (Johnson-sized, 64 channels, 9 blocks).

        Example:
            >>> GeneratorConfig.preset("paper", norm="adain").n_res_blocks
            9
        """
        if name not in cls.PRESETS:
            raise InputError(f"generator preset: expected one of {sorted(cls.PRESETS)}, got {name!r}")
        return cls(**{**cls.PRESETS[name], **overrides})

    @property
    def min_size(self) -> int:
        """Smallest height and width G accepts (the bottleneck must be at least 2 pixels)."""
        return max(4, 2**self.n_down + 1)


class _ConvNorm(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, config: GeneratorConfig, relu: bool = True):
        super().__init__()
        padding_mode = "reflect" if stride == 1 else "zeros"
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, padding_mode=padding_mode)
        self.norm = BSN(cout, config.embed_channels, kind=config.norm)
        self.relu = relu
        self.slope = 0.2 if config.activation == "leaky_relu" else 0.0

    def forward(self, x: torch.Tensor, p: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(x), p, mask)
        if not self.relu:
            return x
        return F.leaky_relu(x, self.slope) if self.slope else F.relu(x)


class _ResBlock(nn.Module):
    def __init__(self, channels: int, config: GeneratorConfig):
        super().__init__()
        self.first = _ConvNorm(channels, channels, 3, 1, config)
        self.second = _ConvNorm(channels, channels, 3, 1, config, relu=False)

    def forward(self, x: torch.Tensor, p: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return x + self.second(self.first(x, p, mask), p, mask)


class Generator(nn.Module):
    """G(R, P, M̂) → Y (see the module docstring for the architecture).

    Args:
        config: width, depth and normalisation (:meth:`GeneratorConfig.preset`).

    Example:
        >>> from tfvsdk.nn import Embedder
        >>> cfg = GeneratorConfig.preset("small")
        >>> e, g = Embedder(cfg.base_channels, cfg.n_down, cfg.embed_channels), Generator(cfg)
        >>> r, x_p, mask = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), torch.ones(1, 1, 32, 32)
        >>> g(r, e(x_p, x_p * (1 - mask)), mask, x_p * (1 - mask)).shape
        torch.Size([1, 3, 32, 32])
    """

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GeneratorConfig()
        c = config.base_channels
        self.head = _ConvNorm(7 if config.hint_input else 4, c, 7, 1, config)
        self.down = nn.ModuleList(_ConvNorm(c * 2**k, c * 2 ** (k + 1), 3, 2, config) for k in range(config.n_down))
        bottleneck = c * 2**config.n_down
        self.blocks = nn.ModuleList(_ResBlock(bottleneck, config) for _ in range(config.n_res_blocks))
        self.up = nn.ModuleList(
            _ConvNorm(c * 2 ** (k + 1) + (c * 2**k if config.skips else 0), c * 2**k, 3, 1, config)
            for k in reversed(range(config.n_down))
        )
        self.tail = nn.Conv2d(c, 3, 7, padding=3, padding_mode="reflect")
        if config.output == "residual":
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    def forward(
        self, rendered: torch.Tensor, p: torch.Tensor, mask: torch.Tensor, hint: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Generate the output frame.

        Args:
            rendered: (B, 3, H, W) rendered face R in [0, 1].
            p: (B, embed_channels, h, w) appearance embedding P = E(X_p, M) (any h, w; usually ⌈H/2^n_down⌉).
            mask: (B, 1, H, W) face mask M̂ in [0, 1].
            hint: (B, 3, H, W) appearance hint M in [0, 1]; required when ``config.hint_input``.

        Returns:
            (B, 3, H, W) output Y in [0, 1].
        """
        sizes: dict[str, int] = {}
        check_tensor("rendered", rendered, ("B", 3, "H", "W"), sizes, finite=False)
        check_tensor("p", p, ("B", self.config.embed_channels, None, None), sizes, finite=False)
        check_tensor("mask", mask, ("B", 1, "H", "W"), sizes, finite=False)
        if min(sizes["H"], sizes["W"]) < self.config.min_size:
            raise InputError(
                f"rendered: expected height and width ≥ {self.config.min_size}, got {sizes['H']}×{sizes['W']}"
            )
        inputs = [rendered * 2 - 1, mask]
        if self.config.hint_input:
            if hint is None:
                raise InputError("hint: this generator reads the hint M (config.hint_input=True); got None")
            check_tensor("hint", hint, ("B", 3, "H", "W"), sizes, finite=False)
            inputs.append(hint * 2 - 1)
        x = self.head(torch.cat(inputs, dim=1), p, mask)
        encoder = []
        for layer in self.down:
            encoder.append(x)
            x = layer(x, p, mask)
        for block in self.blocks:
            x = block(x, p, mask)
        for layer in self.up:
            skip = encoder.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
            x = layer(torch.cat([x, skip], dim=1) if self.config.skips else x, p, mask)
        if self.config.output == "direct":
            return torch.sigmoid(self.tail(x))
        composite = mask * rendered + (1 - mask) * hint
        residual = torch.tanh(self.tail(x))
        k = self.config.residual_dilation
        if k is not None:
            residual = residual * (F.max_pool2d(mask, 2 * k + 1, stride=1, padding=k) if k else mask)
        return (composite + residual).clamp(0, 1)
