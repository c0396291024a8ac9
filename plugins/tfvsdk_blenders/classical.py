"""The ``classical`` blender: colour transfer and a feathered seam, no learned weights.

What editing uses when no BSN weights are given. Two steps, both per sample:

1. Colour matching (mean/std transfer, Reinhard-style, on luminance and log-chromaticity): R's luminance
   Y = 0.299 R + 0.587 G + 0.114 B and its two log-chromaticities log (r + ε)/(g + ε), log (b + ε)/(g + ε)
   (ε = 0.02) are each shifted to the mean of the appearance frame's inside M̂ — the face region of the
   frame being edited, which has the skin tone and lighting the new face must take (a ring around the mask
   would mix in hair and background) — and their deviations from R's own mean scaled by the ratio of the
   frame's standard deviation to R's: the luminance's clamped to [1/max_gain, max_gain], the
   chromaticities' never above 1. Statistics are weighted by M̂ (:func:`tfvsdk.nn.masked_mean_std`). So the
   face takes the frame's skin colour, exposure and contrast, and the identity's features keep at most
   their own saturation: an amplified hue contrast turned a light lipstick magenta and dark eyelids orange
   on a ruddy frame, colours neither face has (``tone="target"`` below).
2. Compositing: Y = X_p + A (R' − X_p), with A the feathered mask: M̂ eroded by r pixels (square
   structuring element) and then box-blurred with radius r. A rises from 0 on M̂'s border to 1 at 2r
   pixels inside, and is exactly 0 wherever M̂ = 0, so every pixel outside M̂ is exactly the appearance
   frame. The image border does not count as outside (a face cut by the frame is not feathered there).

r = max(1, round(feather · min(H, W))). The hint M is not used: outside M̂ the output is the appearance
frame, the frame the composition blends onto.

Options:

* ``max_detail_gain`` (default ``tone`` only) splits R's luminance into its shading — a box average, inside
  M̂, over a square of side ``DETAIL_FRACTION`` (1/10) of the face's size — and the detail around it, and
  bounds the detail's gain by ``max_detail_gain``: the shading takes the frame's contrast, the identity's
  blotches, lashes and creases at most their own. A smooth texture pasted on a contrasty face (wrinkles,
  glasses, hair inside M̂) gets gains up to 1.5, which drew its small dark features as dark strokes and patches.
* ``tone="target"`` (the default until session 32) replaces step 1 by the same transfer per RGB channel:
  R is shifted and scaled so that each channel's mean and standard deviation inside M̂ equal the frame's,
  each gain σ_X/σ_R clamped to [1/max_gain, max_gain]. On real photos the three gains differ (1.9–3.0),
  which amplifies the hue contrast of the identity's lips and eyes; measured by
  :func:`tfvsdk.metrics.colour_outliers` on the real-face table of docs/editing.md, up to 8 % of the face
  takes a colour neither source shows (``"target-chroma"``: ≤ 1.7 %).
* ``tone="identity"`` replaces step 1 by one gain on all three channels that gives R the frame's mean
  luminance inside M̂ (Y = 0.299 R + 0.587 G + 0.114 B): the rendered face keeps its own chromaticity
  (r : g : b) — the identity's skin tone — and takes the frame's exposure.
* ``tone="target-mean"`` replaces step 1 by a transfer that keeps the rendered face's hue contrast: R is
  shifted to the frame's per-channel mean inside M̂ and its deviations from its own mean are scaled by one
  gain for all three channels, the ratio of the frame's to R's luminance standard deviation inside M̂,
  clamped to [1/``max_contrast``, ``max_contrast``]. The per-channel gains of ``"target"`` reach 2–3 on real
  photos (the frame's face region holds another person's eyes, brows and shadows; a texture from one photo
  is smoother), which blackens the identity's dark features and tints them red on a ruddy frame; one
  bounded gain does neither.
* A greyscale frame (median |chroma| inside M̂ at most 0.01: a black-and-white video) makes R greyscale
  first (its luminance on all three channels): the per-channel transfer would otherwise normalise R's
  three channels apart and leave their differences as coloured blotches on a grey face.
* A greyscale rendering (median |chroma| inside M̂ at most 0.01: a texture from a black-and-white photo) is
  coloured by the frame under every tone: its luminance takes the frame's mean and a contrast gain bounded
  as ``"target-mean"``'s, and every pixel the log-chromaticity of the frame's colour inside M̂ around it —
  the frame averaged over a square of side ``CHROMA_FRACTION`` (1/5) of the face's size (√ of M̂'s pixel
  area) — moved by how the frame's skin changes colour with its light, at the pixel's own luminance against
  that square's (:func:`_colourised`: skin in shadow is ruddier than lit skin, so an identity's shadow
  where the frame's face is lit is not given that light's pale colour, which made it grey). The frame's
  own face, at that scale, says where skin is ruddy, lips red and shadows cool; one mean colour for every
  pixel left the face a flat grey-pink mask — as step 1 would, which gives a face without chroma the
  frame's mean chromaticity. It has no skin tone to keep (``"identity"``); ``"target"`` would
  turn its one grey into the frame's per-channel spreads, so that every grey level became its own colour
  (dark features red-black, the skin a pale, flat mask on a ruddy frame), and ``"target-mean"``'s grey
  deviations added to the mean colour left the face grey and washed the lit skin out towards white.
* ``mode="poisson"`` replaces step 2 by gradient-domain blending (Pérez et al. 2003) on Ω = M̂ eroded by
  r pixels: Y = R' + D in Ω, where D is harmonic in Ω (ΔD = 0) and equals X − R' on Ω's outer border, so
  the paste keeps R''s gradients and meets the frame without a step. D is solved by conjugate gradients on
  the 5-point Laplacian within the batch's bounding box of Ω, started from a push-pull fill of the border
  values (a smooth guess, so ``iterations`` CG steps converge on the detail). Outside Ω the output is X.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import tfvsdk
from tfvsdk.nn import masked_mean_std
from tfvsdk.texture import push_pull

_LUMA = (0.299, 0.587, 0.114)
TONES: tuple[str, ...] = ("target-chroma", "target", "identity", "target-mean")
CHROMA_FRACTION = 0.2
"""Side of the square, as a fraction of the face's size, over which a greyscale rendering's colour is taken
from the frame (see the module docstring)."""
DETAIL_FRACTION = 0.1
"""Side of the square, as a fraction of the face's size, of the shading the ``max_detail_gain`` option splits
off R's luminance (see the module docstring)."""
LIGHT_FLOOR = 0.03
"""Luminance variation of a frame's face (0–1) below which :func:`_colourised` learns no colour change
with light from it."""
CHROMA_EPSILON = 0.02
"""ε of the log-chromaticities log (r + ε)/(g + ε), log (b + ε)/(g + ε) of ``tone="target-chroma"``."""


def feathered_mask(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """The blending weight A of a (B, 1, H, W) mask: erosion by ``radius`` then a box blur of ``radius``.

    Both steps are separable (row then column). The result is 0 wherever ``mask`` is 0 and lies in [0, 1].
    """
    k = 2 * radius + 1
    eroded = -F.max_pool2d(-mask, (1, k), stride=1, padding=(0, radius))
    eroded = -F.max_pool2d(-eroded, (k, 1), stride=1, padding=(radius, 0))
    return _box_blur(eroded, radius)


def _box_blur(x: torch.Tensor, radius: int) -> torch.Tensor:
    """(B, C, H, W) ``x`` averaged over a (2 radius + 1)² square around each pixel, the image's border
    excluded (rows then columns)."""
    k = 2 * radius + 1
    x = F.avg_pool2d(x, (1, k), stride=1, padding=(0, radius), count_include_pad=False)
    return F.avg_pool2d(x, (k, 1), stride=1, padding=(radius, 0), count_include_pad=False)


def _detail(luminance: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) ``luminance`` minus its shading: its average inside the (B, 1, H, W) ``mask`` (> 0.5) over a
    square of side ``DETAIL_FRACTION`` of each sample's face size (√ of the mask's pixel area)."""
    inside = (mask > 0.5).to(luminance.dtype)
    radii = (DETAIL_FRACTION / 2 * inside.flatten(1).sum(1).sqrt()).round().clamp(min=1).to(torch.int64)
    weighted = torch.cat([luminance * inside, inside], 1)
    shading = torch.empty_like(luminance)
    for radius in radii.unique().tolist():
        rows = radii == radius
        sums = _box_sum(weighted[rows], radius)
        shading[rows] = sums[:, :1] / sums[:, 1:].clamp(min=1e-6)
    return luminance - shading


def _bounding_box(region: torch.Tensor, margin: int = 0) -> tuple:
    """The index ``(..., rows, columns)`` of the smallest box holding every True pixel of the (B, 1, H, W)
    ``region`` over the batch, grown by ``margin`` pixels within the image (the whole image when none is True)."""
    rows, cols = region.any(0)[0].any(1).nonzero()[:, 0], region.any(0)[0].any(0).nonzero()[:, 0]
    if rows.numel() == 0:
        return (...,)
    h, w = region.shape[-2:]
    return (..., slice(max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, h)),
            slice(max(int(cols[0]) - margin, 0), min(int(cols[-1]) + 1 + margin, w)))


def _box_sum(x: torch.Tensor, radius: int) -> torch.Tensor:
    """(B, C, H, W) sums of ``x`` over the (2 radius + 1)² square around each pixel (zeros beyond the image),
    by running sums: the cost does not grow with the radius."""
    k = 2 * radius + 1
    rows = F.pad(x, (radius + 1, radius)).cumsum(-1)
    x = rows[..., k:] - rows[..., :-k]
    cols = F.pad(x, (0, 0, radius + 1, radius)).cumsum(-2)
    return cols[..., k:, :] - cols[..., :-k, :]


class ClassicalBlender(tfvsdk.Blender):
    """Colour-matched, feathered paste of R onto the appearance frame (see the module docstring).

    Args:
        feather: seam width as a fraction of the frame's shorter side (r above); 0.025 is 6 px at 256².
        max_gain: bound of the luminance contrast gain of step 1 (of each channel's with ``tone="target"``).
        tone: ``"target-chroma"`` (step 1), ``"target"``, ``"identity"`` or ``"target-mean"`` (the options above).
        max_contrast: bound of the luminance contrast gain of ``tone="target-mean"``.
        max_detail_gain: bound of the gain on the rendered face's luminance detail, finer than
            ``DETAIL_FRACTION`` of the face's size (default ``tone``); None: ``max_gain``, one gain for all
            (the transfer before session 35).

    Example:
        >>> blender = tfvsdk.create("blender", "classical")
        >>> mask = torch.zeros(1, 1, 64, 64); mask[..., 16:48, 20:44] = 1
        >>> frame = torch.rand(1, 3, 64, 64)
        >>> y = blender.blend(torch.rand(1, 3, 64, 64) * mask, frame, frame * (1 - mask), mask)
        >>> bool((y[mask.expand_as(y) == 0] == frame[mask.expand_as(y) == 0]).all())
        True
    """

    def __init__(
        self, feather: float = 0.025, max_gain: float = 3.0, *, tone: str = "target-chroma", mode: str = "feather",
        iterations: int = 60, max_contrast: float = 1.5, max_detail_gain: float | None = 1.0,
    ) -> None:
        if not 0 <= feather < 0.5:
            raise tfvsdk.InputError(f"feather: expected a fraction of the frame size in [0, 0.5), got {feather!r}")
        if not max_gain >= 1:
            raise tfvsdk.InputError(f"max_gain: expected a gain ≥ 1, got {max_gain!r}")
        if tone not in TONES:
            raise tfvsdk.InputError(f"tone: expected one of {', '.join(map(repr, TONES))}, got {tone!r}")
        if not max_contrast >= 1:
            raise tfvsdk.InputError(f"max_contrast: expected a gain ≥ 1, got {max_contrast!r}")
        if max_detail_gain is not None and not max_detail_gain > 0:
            raise tfvsdk.InputError(f"max_detail_gain: expected a gain > 0, got {max_detail_gain!r}")
        if mode not in ("feather", "poisson"):
            raise tfvsdk.InputError(f"mode: expected 'feather' or 'poisson', got {mode!r}")
        if not isinstance(iterations, int) or iterations < 0:
            raise tfvsdk.InputError(f"iterations: expected an int ≥ 0, got {iterations!r}")
        self.feather = feather
        self.max_gain = max_gain
        self.tone = tone
        self.mode = mode
        self.iterations = iterations
        self.max_contrast = max_contrast
        self.max_detail_gain = max_gain if max_detail_gain is None else max_detail_gain

    def _blend(
        self, rendered: torch.Tensor, appearance: torch.Tensor, hint: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Blend (shapes and ranges as :meth:`tfvsdk.Blender.blend`); the output follows the inputs' device."""
        matched = self._match_colour(rendered, appearance, mask)
        radius = max(1, round(self.feather * min(mask.shape[-2:])))
        if self.mode == "poisson":
            inside = -F.max_pool2d(-(mask > 0.5).to(mask.dtype), 2 * radius + 1, stride=1, padding=radius)
            return torch.where(inside > 0, poisson_paste(matched, appearance, inside > 0, self.iterations).clamp(0, 1), appearance)
        weight = feathered_mask(mask, radius)
        blended = (appearance + weight * (matched - appearance)).clamp(0, 1)
        return torch.where(weight > 0, blended, appearance)

    def _chroma_transfer(self, rendered: torch.Tensor, appearance: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Step 1 (``tone="target-chroma"``) of the module docstring."""
        ours, theirs = _luma_chroma(rendered), _luma_chroma(appearance)
        mean_r, std_r, _ = masked_mean_std(ours, mask)
        mean_x, std_x, _ = masked_mean_std(theirs, mask)
        gain = std_x / std_r.clamp(min=1e-6)
        gain = torch.cat([gain[:, :1].clamp(1 / self.max_gain, self.max_gain), gain[:, 1:].clamp(max=1.0)], 1)
        features = (ours - mean_r) * gain + mean_x
        excess = gain[:, :1] - gain[:, :1].clamp(max=self.max_detail_gain)
        if bool((excess > 0).any()):
            face = _bounding_box(mask > 0)  # beyond it M̂ = 0: nothing to correct, nothing in the box sums
            features[:, :1][face] -= excess * _detail(ours[:, :1][face], mask[face])
        return _from_luma_chroma(features)

    def _match_colour(self, rendered: torch.Tensor, appearance: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Step 1 (or its ``tone`` variants) of the module docstring."""
        luma = rendered.new_tensor(_LUMA).view(1, 3, 1, 1)
        luminance = (luma * rendered).sum(1, keepdim=True)  # unchanged by the greying below (the weights sum to 1)
        rendered = torch.where(_coloured(appearance, mask)[:, None, None, None], rendered, luminance.expand_as(rendered))
        mean_r, std_r, _ = masked_mean_std(rendered, mask)
        mean_x, std_x, _ = masked_mean_std(appearance, mask)
        luminance_r, spread_r, _ = masked_mean_std(luminance, mask)
        luminance_x, spread_x, _ = masked_mean_std((luma * appearance).sum(1, keepdim=True), mask)
        contrast = (spread_x / spread_r.clamp(min=1e-6)).clamp(1 / self.max_contrast, self.max_contrast)
        if self.tone == "target-mean":
            matched = (rendered - mean_r) * contrast + mean_x
        elif self.tone == "target":
            matched = (rendered - mean_r) * (std_x / std_r).clamp(1 / self.max_gain, self.max_gain) + mean_x
        elif self.tone == "identity":
            ratio = (mean_x * luma).sum(1, keepdim=True) / (mean_r * luma).sum(1, keepdim=True).clamp(min=1e-6)
            matched = rendered * ratio
        else:
            matched = self._chroma_transfer(rendered, appearance, mask)
        coloured = _coloured(rendered, mask)
        if bool(coloured.all()):  # the greyscale path's local colour costs as much as the rest of the blend
            return matched
        colourised = _colourised(luminance_x + (luminance - luminance_r) * contrast, appearance, mask)
        return torch.where(coloured[:, None, None, None], matched, colourised)


def _luma_chroma(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) (luminance, log (r + ε)/(g + ε), log (b + ε)/(g + ε)) of an RGB image, ε = ``CHROMA_EPSILON``."""
    r, g, b = image.clamp(0, 1).unbind(1)
    e = CHROMA_EPSILON
    return torch.stack([_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b, torch.log((r + e) / (g + e)), torch.log((b + e) / (g + e))], 1)


def _from_luma_chroma(features: torch.Tensor) -> torch.Tensor:
    """The RGB image whose :func:`_luma_chroma` is (B, 3, H, W) ``features`` (g from the luminance equation)."""
    luminance, red, blue = features.unbind(1)
    e, (wr, wg, wb) = CHROMA_EPSILON, _LUMA
    red, blue = torch.exp(red), torch.exp(blue)
    g = (luminance - e * (wr * red + wb * blue - wr - wb)) / (wr * red + wg + wb * blue)
    return torch.stack([red * (g + e) - e, g, blue * (g + e) - e], 1)


def _colourised(luminance: torch.Tensor, frame: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB with the (B, 1, H, W) ``luminance`` of a greyscale rendering and the colour of the
    (B, 3, H, W) ``frame``'s face inside the (B, 1, H, W) ``mask`` (> 0.5), in :func:`_luma_chroma`'s terms.

    Each pixel's log-chromaticity is the frame's around it — c̄(x), its average inside the mask over a square
    of side ``CHROMA_FRACTION`` of the face's size (√ of the mask's pixel area): where the frame's face is
    ruddy, its lips red — moved by how the frame's colour changes with its light: c(x) = c̄(x) + β (Y(x) −
    Ȳ(x)), Ȳ the frame's luminance averaged alike and β the slope of the frame's log-chromaticity on its
    luminance over the face (least squares; cf. Welsh et al. 2002, colour transferred to a greyscale image by
    matching luminance). Skin in shadow is ruddier than lit skin (on a real frame, the second man's, β = −1.15
    to −1.24 for log r/g, which fell from 0.61 in the face's darkest eighth to 0.13 in its brightest); with c̄
    alone, an identity's shadow that fell where the frame's face is lit took that light's pale colour and came
    out grey. Where no masked
    pixel is near, c̄ and Ȳ are the face's medians. β is fitted at the scale of light, not of pixels — on the
    frame averaged over half that square (a pixel's noise in r, g and b alone makes its log r/g rise with its
    luminance) — and shrunk where the face's light varies by less than ``LIGHT_FLOOR`` (ridge regression,
    Σ ΔY Δc / (Σ ΔY² + n LIGHT_FLOOR²) with Δ the deviations from the face's means), so an evenly lit frame
    colours as c̄ alone. Y is held within the 2nd–98th percentiles of the frame's face's (averaged) luminance:
    beyond the light the frame shows, its colour is not extrapolated."""
    theirs = _luma_chroma(frame)
    inside = (mask > 0.5).to(frame.dtype)
    out = []
    for target, features, weight in zip(luminance, theirs, inside):
        face = weight[0] > 0
        if not bool(face.any()):
            out.append(torch.cat([target, features[1:]]))
            continue
        radius = max(1, round(CHROMA_FRACTION * float(weight.sum().sqrt()) / 2))
        weighted = torch.cat([features * weight, weight])[None]
        sums = _box_blur(weighted, radius)[0]
        local = torch.where(sums[3:] > 1e-3, sums[:3] / sums[3:].clamp(min=1e-3), features[:, face].median(1).values[:, None, None])
        sums = _box_blur(weighted, max(1, radius // 2))[0]
        shading = sums[:3] / sums[3:].clamp(min=1e-3)
        deviation = shading[:, face] - shading[:, face].mean(1, keepdim=True)
        floor = deviation.shape[1] * LIGHT_FLOOR ** 2
        slope = (deviation[1:] * deviation[:1]).sum(1) / (deviation[0].square().sum() + floor)
        lit = torch.quantile(shading[0, face], shading.new_tensor([0.02, 0.98]))  # the frame's own range of light
        out.append(torch.cat([target, local[1:] + slope[:, None, None] * (target.clamp(lit[0], lit[1]) - local[:1])]))
    return _from_luma_chroma(torch.stack(out))


def _coloured(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B,) bool: the median over the pixels inside the (B, 1, H, W) ``mask`` (> 0.5) of the mean |chroma|
    (a channel's difference from the luminance) of (B, 3, H, W) ``image`` exceeds 0.01 — the image is not
    greyscale there. The median, not the mean: the editor puts the frame's own pixels into a greyscale
    rendering (the mouth interior, the forehead under hair; 10–20 % of the face), which took the mean to
    0.007 on a real black-and-white identity, a hair from the threshold."""
    chroma = (image - (image.new_tensor(_LUMA).view(1, 3, 1, 1) * image).sum(1, keepdim=True)).abs().mean(1)
    inside = mask[:, 0] > 0.5
    return torch.stack([c[m].median() > 0.01 if bool(m.any()) else torch.tensor(True, device=c.device) for c, m in zip(chroma, inside)])


def poisson_paste(source: torch.Tensor, frame: torch.Tensor, region: torch.Tensor, iterations: int) -> torch.Tensor:
    """Gradient-domain paste of (B, C, H, W) ``source`` into ``frame`` on the (B, 1, H, W) bool ``region`` Ω.

    Returns source + D, D harmonic in Ω and equal to frame − source on Ω's 4-neighbour outer border (pixels
    beyond the image edge count as border with the nearest pixel's value); outside Ω the result is
    meaningless (the caller keeps ``frame`` there).
    """
    if not bool(region.any()):
        return frame
    crop = _bounding_box(region, margin=1)
    omega = region[crop].to(source.dtype).expand(-1, source.shape[1], -1, -1)
    border = (frame - source)[crop] * (1 - omega)

    def neighbours(x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
        return padded[..., :-2, 1:-1] + padded[..., 2:, 1:-1] + padded[..., 1:-1, :-2] + padded[..., 1:-1, 2:]

    def apply(d: torch.Tensor) -> torch.Tensor:
        return omega * (4 * d - neighbours(d * omega))

    ring = ((neighbours(omega) > 0) & (omega == 0)).to(source.dtype)
    guess = push_pull(border, ring[:, :1]) * omega
    rhs = omega * neighbours(border)
    residual = rhs - apply(guess)
    direction = residual.clone()
    norm = (residual * residual).sum((2, 3), keepdim=True)
    for _ in range(iterations):
        step = apply(direction)
        alpha = norm / (direction * step).sum((2, 3), keepdim=True).clamp(min=1e-20)
        guess = guess + alpha * direction
        residual = residual - alpha * step
        new_norm = (residual * residual).sum((2, 3), keepdim=True)
        direction = residual + (new_norm / norm.clamp(min=1e-20)) * direction
        norm = new_norm
    out = source.clone()
    out[crop] = source[crop] + guess
    return out
