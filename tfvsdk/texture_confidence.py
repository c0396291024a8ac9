"""A face texture from real photos: per-texel confidence, a skin mask, de-lighting and symmetric completion.

:func:`~tfvsdk.texture.unwrap_texture` gives the colours the image shows and which texels it shows at all.
:func:`face_texture` turns that into the texture T^i of eq. 3 that editing renders, for photos a user takes:

1. **Confidence** c ∈ [0, 1] of each seen texel, the product of (the image's resolution, min(1, pixels per
   texel), is returned beside it for weighing views of different sizes)
   * the viewing angle: cos θ between the surface normal and the view axis, ramped from 0 at
     ``min_cosine`` to 1 at ``full_cosine`` (grazing texels are smeared across few pixels);
   * the distance to the silhouette: the fitted outline is off by a few pixels and its neighbourhood is
     background or hair, so c rises linearly from 0 at the silhouette to 1 at ``silhouette_fraction`` of the
     face's size (√ of its pixel area) inside it. The silhouette includes the mesh's own occluding edges
     (a depth step between neighbouring pixels larger than ``occlusion_fraction`` of the face's depth
     range, beside a pixel seen nearly edge-on, |cos θ| < ``GRAZING``: the side of the nose on a turned
     face), where the fitted nose is just as far off: next to it the photo shows the nose's other side or
     its shadow, which otherwise came out as a dark streak beside the nose wherever the edit shows that side;
   * skin (tested on the de-lit colours of step 2, eroded by 2 texels; on the forehead, every texel above
     a seen non-skin texel of its column counts as hair, except a non-skin texel within 1/32 of the texture
     of the features, where a fit that placed the brows low leaves their upper hairs; below such a
     texel the skin weight ramps from 0 to 1 over 1/16 of the texture, as the fringe's shadow and stray
     tips lie there — without the ramp they came out as a dark ragged line across the forehead where the
     identity's texture meets the target's): outside the facial
     features (the brows-eyes-nose-mouth polygon of the model's landmarks, its brow edge raised by
     ``BROW_MARGIN`` of the brow-to-eyelid distance: the iBUG brow landmarks run along the brow's centre
     line, and without the margin the upper half of a dark brow was "hair" and so was the whole forehead
     above it), a
     texel whose colour is not skin gets 0 (hair, a fringe, background, glasses frames). The skin colour
     model is robust statistics (median, MAD) of the log-chromaticity (log r/g, log b/g) and luminance of
     the seen texels on the cheeks (the polygons eye corner – nose – mouth corner – jaw).
2. **De-lighting**: second-order SH light is fitted to the seen texels outside the features (robustly, on a
   4× coarser grid of confidence-weighted means) (:func:`tfvsdk.lighting.fit_lighting`); the skin test
   reads the colours divided by its relative shading. With ``delight`` the texture is divided too, so what is
   mirrored or filled carries no shadow of the photo's light, and the renderer multiplies the target's
   shading back (:func:`relight`); by default the texture keeps the photo's shading.
3. **Symmetric completion** only where the mirrored side was seen better: a texel with confidence c whose
   mirror point has confidence c_m takes A_m with weight g = c_m · clamp((c_m − c) / ``mirror_ramp``, 0, 1)
   beside its own colour with weight c. Both weights are continuous over the texture, and on the midline
   (its own mirror) g = 0, so there is no seam.
4. **Mouth interior and covered forehead**: where the photo never shows the mouth interior
   (:attr:`FaceTexture.mouth`), or shows hair over the forehead on both sides (:attr:`FaceTexture.forehead`;
   a gap narrower than 1/16 of the texture, a single strand's column, keeps the fill), the editor takes the
   pixels from the frame the face is pasted into.
5. **Smooth prior**: a push-pull fill of the skin texels (features excluded, so lips and the hairline never
   spread), with weight ``prior_weight``: A = (c A_own + g A_mirror + ε P) / (c + g + ε). A strand's narrow
   gap on the forehead is filled along its texture row instead, between the nearest completed texels on its
   left and right (push-pull's coarse levels there averaged in the cheeks: a tan stripe).
"""

from __future__ import annotations

import functools

import attrs
import torch
import torch.nn.functional as F

from .checks import check_tensor
from .lighting import face_normals, fit_lighting, relative_shading, vertex_normals
from .morphable import MorphableModel
from .raster import rasterize, screen_to_clip
from .texture import push_pull, _texels, _to_grid, unwrap_texture

FEATURES = (17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 45, 54, 55, 56, 57, 58, 59, 48, 36)
CHEEKS = ((36, 31, 48, 4, 2), (45, 35, 54, 12, 14))
BROW_MARGIN = 0.6
GRAZING = 0.5
"""|cos θ| below which a pixel of the mesh is seen nearly edge-on (an occluding edge's side, see face_texture)."""
MOUTH_INTERIOR = (60, 61, 62, 63, 64, 65, 66, 67)


@attrs.frozen(eq=False)
class FaceTexture:
    """What :func:`face_texture` returns.

    Attributes:
        texture: (B, 3, S, S) texture in [0, 1]; with the photo's shading, or de-lit (the photo's mean face
            colour, none of its light pattern) if ``delight`` was on.
        confidence: (B, 1, S, S) confidence of each texel's colour in [0, 1] (own and mirrored views).
        seen: (B, 1, S, S) 1 where the texel was seen directly (:func:`~tfvsdk.texture.unwrap_texture`).
        skin: (B, 1, S, S) the skin mask in [0, 1] (1 inside the facial features).
        light: (B, 9, 3) the SH light fitted to the photo.
        mouth: (B, 1, S, S) in [0, 1]: the mouth interior (inside the inner-lip landmarks' polygon) where
            the photo did not show it, 1 − confidence; editing takes these pixels from the frame the face is
            pasted into (the target's own mouth and teeth) instead of stretching the lips over them. Not
            blurred here: an opening mouth stretches the texels of a closed one many times, so a ramp of a
            few texels became a wide band of lip colour mixed into the target's teeth; the editor softens
            the edge in output pixels instead.
        resolution: (B,) min(1, pixels per texel) of each image: how much detail its texels hold, for
            weighing views of different sizes against each other (the other factors compare texels within
            one image).
        forehead: (B, 1, S, S) in [0, 1]: the forehead above the brows (features excepted) where no view
            shows skin — hair or a fringe over it, at least 1/16 of the texture across — (1 − confidence)
            blurred over 1/10 of the texture (25 texels at 256²: a narrower ramp showed the two foreheads'
            edge as a line); editing takes these pixels from the frame the face is pasted into (the
            target's own forehead) instead of the smooth fill, which there continues the hairline's colour
            into a band.
        shading: (B, 3, S, S) the fitted light's relative shading at each texel (mean 1 over the face, clamped
            to [0.5, 2]; :func:`~tfvsdk.lighting.relative_shading`); a texture with the photo's shading divided
            by it is de-lit, which lets views under different light be fused and lit again as one.
        view: (B, 1, S, S) the confidence of step 1 before the skin test: the viewing angle's ramp × the
            distance to the silhouette, on the seen texels (0 elsewhere) — how well the image shows each
            texel's surface, whatever colour it has there.
    """

    texture: torch.Tensor
    confidence: torch.Tensor
    seen: torch.Tensor
    skin: torch.Tensor
    light: torch.Tensor
    mouth: torch.Tensor
    resolution: torch.Tensor
    forehead: torch.Tensor
    shading: torch.Tensor
    view: torch.Tensor


def face_texture(
    image: torch.Tensor,
    screen_vertices: torch.Tensor,
    model: MorphableModel,
    size: int = 256,
    *,
    min_cosine: float = 0.2,
    full_cosine: float = 0.5,
    silhouette_fraction: float = 0.03,
    occlusion_fraction: float | None = 0.1,
    mirror_ramp: float = 0.25,
    prior_weight: float = 0.01,
    skin_tolerance: float = 3.0,
    margin: int = 2,
    delight: bool = False,
    complete_delit: bool = False,
    backend: str = "auto",
) -> FaceTexture:
    """The texture of the face in ``image`` for editing (see the module docstring for each step).

    Args:
        image: (B, 3, H, W) images in [0, 1].
        screen_vertices: (B, N, 3) the fitted mesh in the images' screen space.
        model: the morphable model (triangles, uv, symmetry, landmark_indices).
        size: texture side in texels.
        min_cosine: cos θ below which a texel has no confidence.
        full_cosine: cos θ from which the viewing angle costs no confidence.
        silhouette_fraction: distance to the silhouette, as a fraction of the face size, of full confidence.
        occlusion_fraction: a depth step between neighbouring pixels larger than this fraction of the face's
            depth range, beside a pixel seen edge-on, is an occluding edge of the mesh, which counts as
            silhouette; None: only the outline.
        mirror_ramp: confidence advantage at which the mirror point gets its full weight.
        prior_weight: weight ε of the smooth prior.
        skin_tolerance: skin colour tolerance in robust standard deviations.
        margin: pixels next to the silhouette never sampled (as :func:`~tfvsdk.texture.unwrap_texture`).
        delight: divide by the fitted light's relative shading (step 2), for a renderer that multiplies a
            target's shading back (:func:`~tfvsdk.lighting.relight`, ``Editor(relight=True)``). Off (the
            default, as the editor textures an identity unless it relights), the texture keeps the photo's
            shading: rendered flat, a de-lit texture loses much of a person (dlib's descriptor distance of
            near-frontal photos re-posed to face the camera: 0.34–0.54 de-lit, 0.16–0.30 not). The light is
            fitted and returned either way, and the skin test uses the de-lit colours.
        complete_delit: (without ``delight``) complete the texture de-lit — the mirrored and prior colours
            divided by the photo's shading where they were seen — and light it again at each texel, so a
            mirrored side takes the shading of where it lies, not of where it was seen. The editor uses it
            for a video's texels fused across views under different light; on still photos it did not edit
            better (session 28: D(identity) within ±0.05 on the real-face table, the greyscale man's
            D(target) 0.624 → 0.567), so it is off by default.
        backend: rasterizer backend.
    """
    sizes: dict[str, int] = {}
    check_tensor("image", image, ("B", 3, "H", "W"), sizes)
    check_tensor("screen_vertices", screen_vertices, ("B", "N", 3), sizes)
    vertices = screen_vertices.detach()
    colour, seen = unwrap_texture(image, vertices, model.triangles, model.uv, size, margin=margin, backend=backend)
    tri = model.triangles.to(torch.int32)
    faces = tri.long()
    texel, texel_tri, weights = _texels(model.uv, tri, size, vertices.dtype, backend)
    corners = faces[texel_tri]  # (K, 3)

    mixed = _mix_vertices(weights, torch.cat([vertices, vertex_normals(vertices, tri)], -1), corners)
    points, normals = mixed[..., :3], F.normalize(mixed[..., 3:], dim=-1)  # (B, K, 3) each
    cosine = ((normals[..., 2] - min_cosine) / (full_cosine - min_cosine)).clamp(0, 1)
    raster = rasterize(screen_to_clip(vertices, image.shape[-2:]), tri, image.shape[-2:], backend=backend)
    covered = raster[..., 3] > 0
    face_px = covered.flatten(1).sum(1).to(vertices.dtype).sqrt().clamp(min=1)
    if occlusion_fraction is not None:
        facing = F.normalize(face_normals(vertices, tri), dim=-1)[..., 2].abs()  # |cos θ| of each triangle
        pixel_facing = torch.gather(facing, 1, (raster[..., 3].long() - 1).clamp(min=0).flatten(1)).view_as(covered)
        covered = covered & ~_occluding_edges(raster[..., 2], covered & (pixel_facing < GRAZING), occlusion_fraction, covered)
    reach = (silhouette_fraction * face_px).clamp(min=1)
    inside = _sample_nearest(_inner_distance(covered, int(reach.max().ceil())), points)
    silhouette = (inside / reach[:, None]).clamp(0, 1)
    texel_px = face_px / (size * model.uv.detach().amax(0).sub(model.uv.detach().amin(0)).prod().sqrt())
    geometric = _to_grid(cosine * silhouette, texel, size)[:, None] * seen

    layout = _layout_masks(model, size, vertices.dtype, backend)
    features, inside_uv = layout.features, layout.inside
    cheeks = layout.cheeks & (geometric > 0.5)

    normal_grid = _to_grid(normals, texel, size).permute(0, 3, 1, 2)
    flat = lambda x: x.flatten(2).transpose(1, 2)  # noqa: E731  (B, C, S, S) -> (B, S², C)
    coarse = lambda x: F.avg_pool2d(x, 4, ceil_mode=True)  # noqa: E731  4× coarser: ample samples for 9 coefficients
    coarse_weight = flat(coarse(geometric * (1 - features.to(colour.dtype))))[..., 0]
    coarse_normals = F.normalize(coarse(normal_grid), dim=1, eps=1e-12)
    coarse_colour = coarse(colour * geometric) / coarse(geometric).clamp(min=1e-6)
    light = fit_lighting(flat(coarse_colour), flat(coarse_normals), coarse_weight)
    shading = relative_shading(flat(coarse_normals), light, coarse_weight).transpose(1, 2).reshape(coarse_normals.shape)
    shading = F.interpolate(shading, size=colour.shape[-2:], mode="bilinear", align_corners=False)
    delit = torch.where(inside_uv, colour / shading, colour)
    albedo = delit if (delight or complete_delit) else colour

    skin = _skin_likelihood(delit, cheeks, skin_tolerance)
    skin = _below_the_hairline(_erode_5(skin), (geometric > 0) & ~layout.grown_features, model, size)
    skin = torch.maximum(skin, features.to(colour.dtype))
    confidence = geometric * skin

    own, mirrored, mirror_conf = albedo, *_mirror(albedo, confidence, model, texel, weights, corners, size)
    gain = mirror_conf * ((mirror_conf - confidence) / mirror_ramp).clamp(0, 1)
    prior_known = (confidence > 0.3) & ~features
    prior = push_pull(albedo, prior_known.to(albedo.dtype)) if bool(prior_known.any()) else albedo.mean((2, 3), keepdim=True).expand_as(albedo)
    total = confidence + gain + prior_weight
    texture = (confidence * own + gain * mirrored + prior_weight * prior) / total
    mouth = layout.mouth_interior.to(confidence.dtype) * (1 - confidence)
    completed = (confidence + gain).clamp(0, 1)
    forehead, strands = _covered_forehead(completed, features, model, size)
    brow = max(_brow_row(model, size), 0)  # strands lie above the brows only: the rows below stay as they are
    top = texture[..., :brow, :]
    top = torch.where(strands[..., :brow, :] > 0, _across_rows(top, completed[..., :brow, :] >= 0.5), top)
    texture = torch.cat([top, texture[..., brow:, :]], -2)
    if complete_delit and not delight:
        texture = torch.where(inside_uv, texture * shading, texture)
    return FaceTexture(texture.clamp(0, 1), completed, seen, skin, light, mouth, texel_px.clamp(max=1), forehead, shading, geometric)


@attrs.frozen
class _LayoutMasks:
    """Bool (1, 1, S, S) regions of the model's UV layout, the same for every image."""

    inside: torch.Tensor
    """the texels inside the layout."""
    features: torch.Tensor
    """the facial features' polygon (:data:`FEATURES`, brows raised by :data:`BROW_MARGIN`)."""
    grown_features: torch.Tensor
    """the features grown by ``S // 32`` texels up and down and 2 sideways: above the brows, a fit's brows
    placed low leave their upper hairs there, not a hairline."""
    cheeks: torch.Tensor
    """the cheek polygons (:data:`CHEEKS`), where the skin colour is sampled."""
    mouth_interior: torch.Tensor
    """inside the inner-lip polygon (:data:`MOUTH_INTERIOR`)."""


@functools.lru_cache(maxsize=8)
def _layout_masks(model: MorphableModel, size: int, dtype: torch.dtype, backend: str) -> _LayoutMasks:
    texel, _, _ = _texels(model.uv, model.triangles.to(torch.int32), size, dtype, backend)

    def grid(inside: torch.Tensor) -> torch.Tensor:
        return _to_grid(inside, texel, size)[:, None]

    features = grid(_in_polygon(model, FEATURES, texel, size, brow_margin=BROW_MARGIN))
    reach = size // 32
    grown = F.max_pool2d(features.to(dtype), (2 * reach + 1, 5), stride=1, padding=(reach, 2)) > 0
    cheeks = grid(sum(_in_polygon(model, polygon, texel, size) for polygon in CHEEKS) > 0)
    return _LayoutMasks(grid(torch.ones_like(texel[None], dtype=torch.bool)), features, grown, cheeks,
                        grid(_in_polygon(model, MOUTH_INTERIOR, texel, size)))


def mirror_texture(values: torch.Tensor, model: MorphableModel, *, backend: str = "auto") -> torch.Tensor:
    """(B, C, S, S) ``values`` at each texel's mirror point (the barycentric mix Σ λ_k uv[symmetry[k]] of its
    triangle's corners' mirror vertices), bilinear; 0 on texels outside the layout or with a corner that has
    no mirror vertex. The face's other side, in place: on a texture, the features its two sides share."""
    check_tensor("values", values, ("B", "C", "S", "S"))
    size = values.shape[-1]
    tri = model.triangles.to(torch.int32)
    texel, texel_tri, weights = _texels(model.uv, tri, size, values.dtype, backend)
    mirrored, _ = _mirror(values, values[:, :1], model, texel, weights, tri.long()[texel_tri], size)
    corners = model.symmetry.long()[tri.long()[texel_tri]]
    known = _to_grid(((corners >= 0).all(-1)[None]).to(values.dtype), texel, size)[:, None]
    return mirrored * known


def _brow_row(model: MorphableModel, size: int) -> int:
    """The texture row of the highest brow landmark (17–26): the forehead is the rows above it."""
    return int(model.uv.detach()[model.landmark_indices[17:27], 1].min() * size)


def _covered_forehead(
    completed: torch.Tensor, features: torch.Tensor, model: MorphableModel, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """:attr:`FaceTexture.forehead` and the strands' gaps, each (B, 1, S, S), from the (B, 1, S, S)
    ``completed`` confidence (own and mirrored) and the features mask. On the rows above the brows, outside
    the features, the unseen texels (completed < 0.5) that run at least ``2 · (size // 32) + 1`` texels
    across are the covered forehead (1 − completed, blurred over ``2 · (size // 20) + 1`` texels); narrower runs (a single strand's
    column, found by a horizontal opening) are the gaps, which :func:`_across_rows` fills."""
    brow = max(_brow_row(model, size), 0)
    blur = size // 20
    # computed on the rows a blur can reach from above the brows (twice that, so the image border's
    # shorter windows fall where there is nothing to blur), zero below: the same values as on the whole
    rows = min(brow + 2 * blur, completed.shape[-2])
    above = torch.zeros_like(completed[..., :rows, :])
    above[..., :brow, :] = 1
    unseen = above * (1 - features[..., :rows, :].to(completed.dtype)) * (1 - completed[..., :rows, :])
    k = 2 * (size // 32) + 1
    gaps = (unseen > 0.5).to(unseen.dtype)
    broad = F.max_pool2d(-F.max_pool2d(-gaps, (1, k), stride=1, padding=(0, k // 2)), (1, k), stride=1, padding=(0, k // 2))
    below = (0, 0, 0, completed.shape[-2] - rows)
    return F.pad(_box_blur(broad * unseen, blur), below), F.pad(gaps * (1 - broad), below)


def _erode_5(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) ``x``'s minimum over the 5 × 5 square around each pixel (the part inside the image), as
    two 1-D passes: the same values as one 2-D pass, in 0.6 of its time."""
    rows = F.max_pool2d(-x, (1, 5), stride=1, padding=(0, 2))
    return -F.max_pool2d(rows, (5, 1), stride=1, padding=(2, 0))


def _box_blur(x: torch.Tensor, radius: int) -> torch.Tensor:
    """(B, C, H, W) ``x`` averaged over the (2 · radius + 1)² square around each pixel (the part inside the
    image), as two 1-D passes: the same average as one 2-D pass, at 2/(2 · radius + 1) of its cost."""
    k = 2 * radius + 1
    rows = F.avg_pool2d(x, (1, k), stride=1, padding=(0, radius), count_include_pad=False)
    return F.avg_pool2d(rows, (k, 1), stride=1, padding=(radius, 0), count_include_pad=False)


def _across_rows(texture: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """(B, C, S, S) ``texture`` linearly interpolated along each row between the nearest ``known`` (B, 1, S, S)
    texels to the left and right (the one known side's colour where only one exists)."""
    size = texture.shape[-1]
    column = torch.arange(size, device=texture.device).expand_as(known[:, 0])
    left = torch.where(known[:, 0], column, torch.full_like(column, -1)).cummax(-1).values
    right = torch.where(known[:, 0], column, torch.full_like(column, 2 * size)).flip(-1).cummin(-1).values.flip(-1)
    has_left, has_right = left >= 0, right < size
    take = lambda index: texture.gather(-1, index.clamp(0, size - 1)[:, None].expand_as(texture))  # noqa: E731
    from_left, from_right = take(left), take(right)
    t = ((column - left).to(texture.dtype) / (right - left).clamp(min=1).to(texture.dtype))[:, None]
    both = from_left * (1 - t) + from_right * t
    out = torch.where((has_left & has_right)[:, None], both, torch.where(has_left[:, None], from_left, from_right))
    return torch.where((has_left | has_right)[:, None], out, texture)


def _mix(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """(..., K, C) barycentric mixes Σ_j weights[k, j] · values[..., k, j, :] of (K, 3) ``weights``."""
    return (weights[..., None] * values).sum(-2)


def _mix_vertices(weights: torch.Tensor, values: torch.Tensor, corners: torch.Tensor) -> torch.Tensor:
    """(B, K, C) barycentric mixes Σ_j weights[k, j] · values[:, corners[k, j]] of (B, N, C) per-vertex
    ``values``, summed left to right (the same sums as :func:`_mix` of the gathered corners, without them)."""
    total = weights[:, 0, None] * values.index_select(1, corners[:, 0])
    for j in (1, 2):
        total = total + weights[:, j, None] * values.index_select(1, corners[:, j])
    return total


def _sample_nearest(values: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(B, K) ``values`` (B, H, W) at the pixels under screen ``points`` (B, K, ≥2); 0 outside the image."""
    batch, height, width = values.shape
    x, y = points[..., 0].floor().long(), points[..., 1].floor().long()
    ok = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    flat = (torch.arange(batch, device=values.device)[:, None] * height + y.clamp(0, height - 1)) * width + x.clamp(0, width - 1)
    return values.reshape(-1)[flat] * ok


def _occluding_edges(depth: torch.Tensor, grazing: torch.Tensor, fraction: float, covered: torch.Tensor) -> torch.Tensor:
    """(B, H, W) bool: the ``grazing`` pixels (seen nearly edge-on) next to a depth step to a ``covered``
    4-neighbour larger than ``fraction`` of the face's depth range — where the mesh turns away and hides part
    of itself (a contour generator such as the side of a turned nose; the rim of an eye opening is a depth
    step too, but faces the camera)."""
    big = torch.finfo(depth.dtype).max
    near = torch.where(covered, depth, big).flatten(1).amin(1)
    far = torch.where(covered, depth, -big).flatten(1).amax(1)
    threshold = (fraction * (far - near)).clamp(min=0)[:, None, None]
    edges = torch.zeros_like(covered)
    for dy, dx in ((0, 1), (1, 0)):
        height, width = depth.shape[1] - dy, depth.shape[2] - dx
        both = covered[:, :height, :width] & covered[:, dy:, dx:]
        jump = both & ((depth[:, :height, :width] - depth[:, dy:, dx:]).abs() > threshold)
        edges[:, :height, :width] |= jump & grazing[:, :height, :width]
        edges[:, dy:, dx:] |= jump & grazing[:, dy:, dx:]
    return edges


def _inner_distance(mask: torch.Tensor, limit: int) -> torch.Tensor:
    """(B, H, W) distance in pixels from each pixel of the bool ``mask`` to the nearest pixel outside it,
    capped at ``limit`` (0 outside): chessboard distance on a 2× coarser grid (a pixel block counts as inside
    when all of it is), upsampled — accurate to ±2 pixels, which is all a confidence ramp needs."""
    height, width = mask.shape[-2:]
    current = -F.max_pool2d(-mask[:, None].to(torch.float32), 2, ceil_mode=True)
    total = current.clone()
    for _ in range(max(0, (limit + 1) // 2 - 1)):
        current = -F.max_pool2d(-current, 3, stride=1, padding=1)
        total += current
    distance = 2 * F.interpolate(total, scale_factor=2, mode="nearest")[..., :height, :width]
    return (distance * mask[:, None]).clamp(max=limit)[:, 0]


def _in_polygon(
    model: MorphableModel, landmarks: tuple[int, ...], texel: torch.Tensor, size: int, *, brow_margin: float = 0.0
) -> torch.Tensor:
    """(1, K) bool: the texels whose centre lies inside :func:`in_uv_polygon`'s polygon."""
    row, col = texel // size, texel % size
    dtype = model.uv.dtype
    u, v = (col.to(dtype) + 0.5) / size, (row.to(dtype) + 0.5) / size
    return in_uv_polygon(model, landmarks, u, v, brow_margin=brow_margin)[None]


def in_uv_polygon(
    model: MorphableModel, landmarks: tuple[int, ...], u: torch.Tensor, v: torch.Tensor, *, brow_margin: float = 0.0
) -> torch.Tensor:
    """Bool (the shape of ``u``): the texture points (u, v) inside the UV polygon through the given iBUG
    landmarks' vertices (even-odd rule). ``brow_margin`` > 0 moves the brow landmarks up (in v) by that
    fraction of their height above the upper eyelid of their side (landmarks 37–38, 43–44): iBUG puts them on
    the brow's centre line, so without a margin the upper half of each brow is outside. The brows' outer ends
    (17, 26) stay, so the polygon does not reach into hair at the temples."""
    index = model.landmark_indices[list(landmarks)]
    polygon = model.uv.detach()[index.clamp(min=0)].clone()
    if brow_margin:
        uv = model.uv.detach()[model.landmark_indices.clamp(min=0)]
        for k, landmark in enumerate(landmarks):
            if 18 <= landmark <= 25:
                lid = uv[[37, 38], 1].mean() if landmark <= 21 else uv[[43, 44], 1].mean()
                polygon[k, 1] = polygon[k, 1] - brow_margin * (lid - polygon[k, 1])
    u, v = u.to(polygon.dtype), v.to(polygon.dtype)
    inside = torch.zeros_like(u, dtype=torch.bool)
    for (u0, v0), (u1, v1) in zip(polygon.tolist(), polygon.roll(-1, 0).tolist()):
        if v0 == v1:
            continue
        crosses = (v0 > v) != (v1 > v)
        at = u0 + (v - v0) * (u1 - u0) / (v1 - v0)
        inside ^= crosses & (u < at)
    return inside


def _skin_likelihood(colour: torch.Tensor, sample: torch.Tensor, tolerance: float) -> torch.Tensor:
    """(B, 1, S, S) in [0, 1]: how well each texel's colour fits the skin model estimated on the (B, 1, S, S)
    bool ``sample`` texels — robust z-scores of the log-chromaticity, a wide band in luminance."""
    eps = 0.02
    r, g, b = colour.clamp(min=0).unbind(1)
    features = torch.stack([torch.log((r + eps) / (g + eps)), torch.log((b + eps) / (g + eps)), torch.log(colour.mean(1) + eps)], 1)
    out = []
    for item, chosen in zip(features, sample[:, 0]):
        values = item[:, chosen]
        if values.shape[1] < 16:
            out.append(torch.ones_like(item[:1]))
            continue
        median = values.median(1).values
        spread = (1.4826 * (values - median[:, None]).abs().median(1).values).clamp(min=torch.tensor([0.03, 0.03, 0.08]))
        z = (item - median[:, None, None]) / spread[:, None, None]
        chroma = (z[0] ** 2 + z[1] ** 2).sqrt()
        score = ((tolerance + 1 - chroma).clamp(0, 1)) * ((tolerance + 1 - z[2].abs()).clamp(0, 1))
        out.append(score[None])
    return torch.stack(out)


def _below_the_hairline(skin: torch.Tensor, seen: torch.Tensor, model: MorphableModel, size: int) -> torch.Tensor:
    """(B, 1, S, S) ``skin`` with every forehead texel above a seen non-skin texel of its texture column set
    to 0: hair grows down from the top, so a skin-coloured strand of a fringe above the hairline is hair too.
    Below the lowest such texel of a column the weight ramps linearly from 0 to 1 over ``size // 16`` texels
    (a fringe's shadow and stray tips, skin-coloured enough to pass the test). The forehead is the rows above
    the brows' landmarks."""
    brow = _brow_row(model, size)
    if brow <= 0:
        return skin
    hair = (skin[..., :brow, :] < 0.5) & seen[..., :brow, :]
    above_hair = hair.flip(-2).to(torch.uint8).cummax(-2).values.flip(-2).bool()
    row = torch.arange(brow, device=skin.device)[:, None].expand(hair.shape[-2:])
    below_hair = row - torch.where(hair, row, torch.full_like(row, -size)).cummax(-2).values
    ramp = (below_hair.to(skin.dtype) / max(size // 16, 1)).clamp(0, 1)
    out = skin.clone()
    out[..., :brow, :] = torch.where(above_hair, torch.zeros_like(ramp), skin[..., :brow, :] * ramp)
    return out


def _mirror(
    albedo: torch.Tensor,
    confidence: torch.Tensor,
    model: MorphableModel,
    texel: torch.Tensor,
    weights: torch.Tensor,
    corners: torch.Tensor,
    size: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The albedo and confidence at each texel's mirror point (Σ λ_k uv[symmetry[corner_k]]); confidence 0
    where a corner has no mirror vertex."""
    mirror = model.symmetry.long()[corners]
    known = (mirror >= 0).all(-1)
    mirror_uv = _mix(weights, model.uv.detach()[mirror.clamp(min=0)])  # (K, 2)
    grid = _to_grid((2 * mirror_uv - 1)[None], texel, size).expand(len(albedo), -1, -1, -1)
    sample = lambda x: F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="border", align_corners=False)  # noqa: E731
    valid = _to_grid(known[None].to(albedo.dtype), texel, size)[:, None]
    return sample(albedo), sample(confidence) * valid
