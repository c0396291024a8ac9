"""Stray edges: the share of an edited face's texture holding edges that none of its sources shows.

Not one of the paper's metrics; the geometric companion of :mod:`.colour`. A texture completed from a
single photo goes wrong in ways that neither D(identity) nor the colour outliers see: the dark edge of a
turned nose mirrored onto a cheek as a streak, hair or background sampled near a far-side outline as a dark
blotch, a mirrored half meeting the seen half in a seam, a push-pull fill meeting the skin in a ridge.
Each is an *edge* in the output that the sources do not have where they are seen well.

Everything is compared in the model's texture space (UV), where the output, the identity photo and the
frame it was pasted into line up whatever their poses: each is unwrapped at its own fit
(:func:`tfvsdk.texture_confidence.face_texture`). :func:`stray_edge_map` marks a texel of the output as a
stray edge when

    G_out(t) > ρ · max_k max_{|s − t|∞ ≤ r} w_k(s) G_k(s) + m,

* G = the gradient magnitude (central differences, per texel) of the log-luminance log(Y + ε), ε = 0.02,
  Y = 0.299 R + 0.587 G + 0.114 B, after a Gaussian blur of σ = ``blur`` texels inside each texture's
  trusted texels (normalised convolution: no filled texel mixed in). The log makes an edge's strength its
  contrast, so the same face under brighter or dimmer light has the same edges;
* w_k = 1 where reference k is trusted (> 0.5) on the texel and its 3 × 3 neighbours, else 0; the window of
  radius r = ``tolerance`` texels absorbs the fits' misregistration of a feature between the sources;
* ρ = ``contrast``, the gain of a source's edge that still counts as that edge: a blender matching the
  frame's light scales the face's contrast (the classical blender's luminance gain, the frame's spread over
  the rendering's, lies between 1 and 1.5 on 21 of the 25 rows of the real-face table), which strengthens
  every edge the identity has without adding one;
* m = ``margin``, the contrast (in log-luminance per texel) an edge must exceed that by.

The output is tested on the texels it shows well (``weight`` > 0.5 there and on the 3 × 3 neighbours).
Which texels of a source count as *seen well* is the caller's choice: for the identity photo, its
confidence (:attr:`~tfvsdk.texture_confidence.FaceTexture.confidence`: grazing angles, the outline and
non-skin excluded) and the same mirrored (:func:`tfvsdk.texture_confidence.mirror_texture`; a face's two
sides share their features); for the frame pasted into, the texels it shows
(:attr:`~tfvsdk.texture_confidence.FaceTexture.view`) where the photo gives none, as an editor takes the
mouth interior and the forehead under hair from that frame (:func:`edit_stray_edges`).
By construction an output judged against itself has no stray edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..checks import check_tensor
from ..errors import InputError
from ..morphable import MorphableModel
from ..texture_confidence import face_texture, mirror_texture
from .colour import _gaussian
from .identity import luminance

__all__ = ["edit_stray_edges", "stray_edge_map", "stray_edges"]

EPSILON = 0.02


def _trusted(weight: torch.Tensor) -> torch.Tensor:
    """(B, 1, S, S) float: 1 where ``weight`` > 0.5 on the texel and its 3 × 3 neighbours."""
    return -F.max_pool2d(-(weight > 0.5).to(weight.dtype), 3, stride=1, padding=1)


def _edge_strength(texture: torch.Tensor, trusted: torch.Tensor, blur: float) -> torch.Tensor:
    """(B, 1, S, S) G of the module docstring: the blurred log-luminance's gradient magnitude per texel."""
    log_y = torch.log(luminance(texture.clamp(0, 1))[:, :1] + EPSILON)
    inside = (trusted > 0).to(texture.dtype)
    smooth = _gaussian(log_y * inside, blur) / _gaussian(inside, blur).clamp(min=1e-6)
    padded = F.pad(smooth, (1, 1, 1, 1), mode="replicate")
    dx = 0.5 * (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2])
    dy = 0.5 * (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1])
    return torch.sqrt(dx.square() + dy.square())


def stray_edge_map(
    texture: torch.Tensor,
    weight: torch.Tensor,
    references: Sequence[tuple[torch.Tensor, torch.Tensor]],
    *,
    blur: float = 1.0,
    tolerance: int = 2,
    contrast: float = 1.5,
    margin: float = 0.04,
) -> torch.Tensor:
    """The stray edges of the module docstring, per texel.

    Args:
        texture: (B, 3, S, S) the edited frames unwrapped into the model's texture space, in [0, 1].
        weight: (B, 1, S, S) where each frame shows the texel well (> 0.5), e.g. its
            :attr:`~tfvsdk.texture_confidence.FaceTexture.view`.
        references: (texture, trust) pairs in the same layout: (B or 1, 3, S, S) textures in [0, 1] and
            (B or 1, 1, S, S) weights, > 0.5 where that source is seen well enough for its edges to count.
        blur: σ of the Gaussian blur before the gradient (texels).
        tolerance: radius r of the window a reference's edge may lie in (texels).
        contrast: the gain ρ of a reference's edge that still explains an edge.
        margin: the contrast m by which an edge must exceed ρ × every reference's (log-luminance per texel).

    Returns:
        (B, 1, S, S) bool, True on stray edges.

    Raises:
        InputError: wrong shapes, no reference, a negative ``tolerance``, ``margin`` or ``blur``, ``contrast`` < 1.
    """
    sizes: dict[str, int] = {}
    check_tensor("texture", texture, ("B", 3, "S", "S"), sizes)
    check_tensor("weight", weight, (sizes["B"], 1, sizes["S"], sizes["S"]))
    if not references:
        raise InputError("references: expected at least one (texture, trust) pair, got none")
    if tolerance < 0 or margin < 0 or blur < 0:
        raise InputError(f"tolerance, margin and blur: expected ≥ 0, got {tolerance!r}, {margin!r}, {blur!r}")
    if contrast < 1:
        raise InputError(f"contrast: expected a gain ≥ 1, got {contrast!r}")
    trusted = _trusted(weight)
    strength = _edge_strength(texture, trusted, blur)
    explained = torch.zeros_like(strength)
    for k, (reference, trust) in enumerate(references):
        ref_sizes: dict[str, int] = {}
        check_tensor(f"references[{k}] texture", reference, ("R", 3, sizes["S"], sizes["S"]), ref_sizes)
        check_tensor(f"references[{k}] trust", trust, (ref_sizes["R"], 1, sizes["S"], sizes["S"]))
        if ref_sizes["R"] not in (1, sizes["B"]):
            raise InputError(f"references[{k}]: expected 1 or {sizes['B']} textures (one per frame), got {ref_sizes['R']}")
        reference_trusted = _trusted(trust.to(texture.dtype))
        edges = _edge_strength(reference.to(texture.dtype), reference_trusted, blur) * reference_trusted
        edges = F.max_pool2d(edges, 2 * tolerance + 1, stride=1, padding=tolerance) if tolerance else edges
        explained = torch.maximum(explained, edges.expand_as(explained))
    return (strength > contrast * explained + margin) & (trusted > 0)


def stray_edges(
    texture: torch.Tensor,
    weight: torch.Tensor,
    references: Sequence[tuple[torch.Tensor, torch.Tensor]],
    *,
    blur: float = 1.0,
    tolerance: int = 2,
    contrast: float = 1.5,
    margin: float = 0.04,
) -> torch.Tensor:
    """(B,) the share of each frame's well-seen texels that :func:`stray_edge_map` marks (0 for a frame that
    shows none); arguments as there."""
    stray = stray_edge_map(texture, weight, references, blur=blur, tolerance=tolerance, contrast=contrast, margin=margin)
    shown = _trusted(weight)
    return stray.flatten(1).sum(1).to(texture.dtype) / shown.flatten(1).sum(1).clamp(min=1)


def edit_stray_edges(
    model: MorphableModel,
    output: torch.Tensor,
    output_vertices: torch.Tensor,
    identity: torch.Tensor,
    identity_vertices: torch.Tensor,
    target: torch.Tensor | None = None,
    target_vertices: torch.Tensor | None = None,
    *,
    size: int = 128,
    band: float = 0.1,
    margin: float = 0.04,
) -> torch.Tensor:
    """(B,) :func:`stray_edges` of edited frames against their sources, each unwrapped at its own fit.

    * the output is tested where it shows the surface well and away from its outline: its
      :attr:`~tfvsdk.texture_confidence.FaceTexture.view` with the silhouette ramp widened to ``band`` of
      the face's size and the nose's occluding edge not counted (a blender feathers the face into the frame
      over about a tenth of its size — the classical blender's 12 px at 256² — where the frame's own edges
      may show: the test starts about halfway into that band);
    * each identity image's edges count where its confidence (grazing angles, the outline and non-skin
      excluded) is > 0.5 on texels it shows directly, and on their mirror points
      (:func:`~tfvsdk.texture_confidence.mirror_texture`);
    * the target frame's edges (the frame the face was pasted into) count where it shows the surface and
      no identity image gives a confident texel (own or mirrored): the mouth interior it did not show, the
      forehead under its hair, which an editor takes from the frame.

    Args:
        model: the morphable model the fits are of.
        output: (B, 3, H, W) edited frames in [0, 1]; ``output_vertices``: (B, N, 3) their fitted mesh in
            screen space (a refit, or the composition that was rendered).
        identity: (R, 3, H', W') the identity's images (a photo, or a few frames of a video);
            ``identity_vertices``: (R, N, 3) their fits.
        target: optional (B, 3, H, W) frames the faces were pasted into; ``target_vertices``: (B, N, 3).
        size: texture side (texels); 128 puts a texel near a pixel for a face of ~120 px.
        band: the output's silhouette ramp, as a fraction of the face's size.
        margin: as :func:`stray_edge_map`.
    """
    if (target is None) != (target_vertices is None):
        raise InputError("target and target_vertices: give both or neither")
    shown = face_texture(output, output_vertices, model, size, silhouette_fraction=band, occlusion_fraction=None)
    references: list[tuple[torch.Tensor, torch.Tensor]] = []
    confident = torch.zeros_like(shown.view[:1])
    for k in range(len(identity)):
        photo = face_texture(identity[k : k + 1], identity_vertices[k : k + 1], model, size)
        trust = photo.confidence * photo.seen
        references += [(photo.texture, trust), (mirror_texture(photo.texture, model), mirror_texture(trust, model))]
        confident = torch.maximum(confident, photo.confidence)
    if target is not None:
        frame = face_texture(target, target_vertices, model, size)
        references.append((frame.texture, frame.view * (confident < 0.5).to(frame.view.dtype)))
    return stray_edges(shown.texture, shown.view, references, margin=margin)
