"""The head around a moved face: where an edit turns or moves the face, the hair, ears and glasses follow.

Editing pastes the rendered face R (mask M̂) over the frame X it takes the appearance from. When the
composition moves the face away from X's own pose (a reenactment takes the driver's head rotation), X's head
stays where it was: the new face sits askew on it, with the old hairline, ears and glasses around it.
:func:`follow_face` warps X by the 2-D similarity T (:func:`face_similarity`: roll, shift, change of size)
that carries X's fitted face from its own pose to the composition's, fully on and near the face and less
with distance, so that the head turns with its face and the background away from it stays put. What T
cannot carry (a turn in depth shows another side of the face) is left to the rendered face and to
:func:`~tfvsdk.uncovered.fill_uncovered_features`.

Measured on real photos re-posed by 25° of roll (session 34), the descriptor distance of the result to the
photo fell from 0.31–0.44 to 0.17–0.30 (docs/editing.md, "On a photo").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .checks import check_tensor
from .texture_confidence import _box_blur


def face_similarity(own: torch.Tensor, new: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2-D similarity x ↦ A x + t closest in least squares to carrying the points ``own`` onto ``new``.

    Args:
        own: (B, N, ≥ 2) screen points (x, y in pixels; further columns ignored).
        new: (B, N, ≥ 2) the same points elsewhere.

    Returns:
        ``(A, t)``: (B, 2, 2) A = s · rotation (no reflection) and (B, 2) t, Umeyama's solution.
    """
    sizes: dict[str, int] = {}
    check_tensor("own", own, ("B", "N", None), sizes)
    check_tensor("new", new, ("B", "N", None), sizes)
    a, b = own[..., :2], new[..., :2]
    mean_a, mean_b = a.mean(1, keepdim=True), b.mean(1, keepdim=True)
    da, db = a - mean_a, b - mean_b
    norm = da.square().sum((1, 2)).clamp(min=1e-12)
    c = (da * db).sum((1, 2)) / norm  # A = [[c, −s], [s, c]]
    s = (da[..., 0] * db[..., 1] - da[..., 1] * db[..., 0]).sum(1) / norm
    matrix = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    return matrix, mean_b[:, 0] - (matrix @ mean_a[:, 0, :, None])[..., 0]


def apply_similarity(points: torch.Tensor, matrix: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """(B, N, C ≥ 2) ``points`` with x, y mapped by A x + t ((B, 2, 2) ``matrix``, (B, 2) ``shift``), the
    other columns (screen z) as they are."""
    moved = points[..., :2] @ matrix.transpose(1, 2) + shift[:, None]
    return torch.cat([moved, points[..., 2:]], -1)


def carry_back(values: torch.Tensor, matrix: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) ``values`` of the composition's frame brought into the appearance frame's own geometry:
    each pixel q takes ``values`` at T(q) = A q + t (bilinear, 0 beyond the image) — what the similarity
    carries to where q goes. Near the face it undoes :func:`follow_face`."""
    sizes: dict[str, int] = {}
    check_tensor("values", values, ("B", None, "H", "W"), sizes)
    check_tensor("matrix", matrix, ("B", 2, 2), sizes)
    check_tensor("shift", shift, ("B", 2), sizes)
    pixels = _pixel_centres(values)
    ahead = torch.einsum("bij,bhwj->bhwi", matrix.to(values.dtype), pixels) + shift.to(values.dtype)[:, None, None]
    return _sample(values, ahead, "zeros")


def _pixel_centres(frames: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 2) the (x, y) pixel centres of (B, C, H, W) ``frames``."""
    batch, _, height, width = frames.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, device=frames.device, dtype=frames.dtype) + 0.5,
        torch.arange(width, device=frames.device, dtype=frames.dtype) + 0.5,
        indexing="ij",
    )
    return torch.stack([xs, ys], -1).expand(batch, -1, -1, -1)


def _sample(frames: torch.Tensor, points: torch.Tensor, padding: str) -> torch.Tensor:
    """Bilinear samples (B, C, H, W) of ``frames`` at (B, H, W, 2) pixel positions (x, y)."""
    height, width = frames.shape[-2:]
    grid = torch.stack([2 * points[..., 0] / width - 1, 2 * points[..., 1] / height - 1], -1)
    return F.grid_sample(frames, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def follow_face(
    frames: torch.Tensor,
    matrix: torch.Tensor,
    shift: torch.Tensor,
    region: torch.Tensor,
    *,
    reach: float = 0.35,
    hold: float = 0.15,
    fixed: torch.Tensor | None = None,
) -> torch.Tensor:
    """``frames`` warped by the similarity T = (``matrix``, ``shift``) on and near the face, less further away.

    Args:
        frames: (B, C, H, W) the frames an edit pastes onto.
        matrix: (B, 2, 2) A of the similarity T of :func:`face_similarity`, from the frames' own fitted face
            to the composition's.
        shift: (B, 2) t of T.
        region: (B, 1, H, W) where the face is, in either pose (e.g. both rendered masks' union).
        reach: beyond the held band the warp falls smoothly to 0 within three times this fraction of the
            face's size (√ of the region's pixel area).
        hold: the warp is full on the region grown by this fraction of the face's size (the ears, the
            hairline and glasses' frames next to the face move with it).
        fixed: (B, 1, H, W) pixels that must not move (other faces of the frame; > 0.5), or None.

    Returns:
        (B, C, H, W): each output pixel p takes the frame at p + w(p) · (T⁻¹(p) − p), w = min(1, 2 · b) with b
        the grown region blurred by three box passes of radius ``reach`` × the face's size (0 on ``fixed``),
        bilinear, the image's border repeated.
    """
    sizes: dict[str, int] = {}
    check_tensor("frames", frames, ("B", None, "H", "W"), sizes)
    check_tensor("matrix", matrix, ("B", 2, 2), sizes)
    check_tensor("shift", shift, ("B", 2), sizes)
    check_tensor("region", region, ("B", 1, "H", "W"), sizes)
    dtype = frames.dtype
    pixels = _pixel_centres(frames)
    back = torch.einsum("bij,bhwj->bhwi", torch.linalg.inv(matrix.to(dtype)), pixels - shift.to(dtype)[:, None, None])
    weight = _falloff(region.to(dtype), reach, hold)
    if fixed is not None:
        check_tensor("fixed", fixed, ("B", 1, "H", "W"), sizes)
        weight = weight * (fixed <= 0.5).to(dtype)
    return _sample(frames, pixels + weight[:, 0, ..., None] * (back - pixels), "border")


def _falloff(region: torch.Tensor, reach: float, hold: float) -> torch.Tensor:
    """(B, 1, H, W) in [0, 1]: 1 on the (B, 1, H, W) ``region`` grown by ``hold`` of the face's size, falling
    smoothly to 0 within 3 · ``reach`` of it beyond. Computed on a grid coarser by up to an eighth of the blur's
    radius (the falloff is smooth at that scale) and upsampled bilinearly."""
    out = []
    for item in region:
        size = float(item.sum().sqrt())
        step = max(1, int(reach * size / 8))
        coarse = F.avg_pool2d(item[None], step, ceil_mode=True) if step > 1 else item[None]
        grow = int(hold * size / step)
        if grow >= 1:
            g = 2 * grow + 1
            coarse = F.max_pool2d(coarse, (1, g), stride=1, padding=(0, grow))
            coarse = F.max_pool2d(coarse, (g, 1), stride=1, padding=(grow, 0))
        radius = max(1, int(reach * size / step))
        for _ in range(3):
            coarse = _box_blur(coarse, radius)
        if step > 1:
            coarse = F.interpolate(coarse, scale_factor=step, mode="bilinear", align_corners=False)[..., : item.shape[-2], : item.shape[-1]]
        out.append((2 * coarse).clamp(max=1))
    return torch.cat(out)
