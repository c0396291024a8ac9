"""The 3-D flow of the paper (eq. 9–14), warping, the temporal loss L_tmp (eq. 15) and the metric E_tmp.

How eq. 9–15 are read here (frame t's pixel grid; screen space as in :mod:`tfvsdk.camera`):

* Eq. 9: ``W = Σ_k λ_k^t (V_k^t − V_k^{t−1})``, λ^t the barycentrics of the triangle that frame t's
  rasterizer shows at the pixel centre q = (i, j) and V the screen-space vertices (pixels). So W points
  *from* the surface point's position in frame t−1 *to* its position in frame t: the point seen at q in
  frame t was at ``q − W`` in frame t−1.
* Eq. 10–11: ``Q^t = (i, j, Σ λ_k^t z_k^t)`` and ``S^t = [Q_z^t ≥ Z^t − τ]``. With an exact rasterizer
  Q^t is the depth buffer itself, so S^t is the coverage mask; the test is kept as written, with a small
  tolerance τ for rounding.
* Eq. 12–13: ``Q^{t−1} = Q^t − W = Σ λ_k^t V_k^{t−1}`` (the same surface point in frame t−1) and
  ``S^{t−1} = [Q_z^{t−1} ≥ Z^{t−1}(Q_x^{t−1}, Q_y^{t−1}) − τ]``. Z^{t−1} is read at this sub-pixel
  position from the plane of the triangle frame t−1 shows at the nearest covered pixel centre (see
  :func:`tfvsdk.raster.visible_points`, which also widens τ by that plane's slope times the extrapolation
  distance). This is why :func:`flow3d` takes the triangle list: a :class:`~tfvsdk.Rendering` does not
  carry it.
* Eq. 14: ``F = W · S^t · S^{t−1}`` (x, y components; pixels).
* Eq. 15: the paper writes ``‖Y^{t−1} − warp(Y^t, F^{t→t−1})‖`` and calls it a mean squared error. Since F
  lives on frame t's grid, the warp that is well defined is backward sampling: :func:`warp` samples
  Y^{t−1} at ``q − F(q)`` (differentiable bilinear sampling), which brings frame t−1 onto frame t's grid,
  and :func:`temporal_loss` compares it with Y^t — the same correspondence the paper's equation expresses,
  evaluated on the grid where F is defined. The paper's norm is taken as a root mean square over the
  visible pixels (S^t · S^{t−1} = 1) and the channels: an L2 norm divided by the square root of the number
  of values it sums, so that its gradient is of the L1 terms' order (docs/training.md, "Loss scales").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .checks import check_tensor
from .errors import InputError
from .raster import visible_points
from .records import Rendering


def flow3d(
    rendering_t: Rendering,
    rendering_prev: Rendering,
    triangles: torch.Tensor,
    *,
    depth_tolerance: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The 3-D flow F^{t→t−1} (eq. 9–14) on frame t's pixel grid, with its visibility.

    Args:
        rendering_t: the rendering of frame t (its ``vertices`` are V^t).
        rendering_prev: the rendering of frame t−1 (its ``vertices`` are V^{t−1}, same topology).
        triangles: (T, 3) the triangles both renderings were made from.
        depth_tolerance: τ of eq. 11 and 13, in pixels (screen z units).

    Returns:
        ``(flow, visible)``: (B, 2, H, W) flow in pixels — the point seen at pixel centre q in frame t was at
        ``q − flow`` in frame t−1 — zero where not visible; and (B, 1, H, W) float visibility S^t · S^{t−1}.
    """
    sizes: dict[str, int] = {}
    check_tensor("rendering_t.vertices", rendering_t.vertices, ("B", "N", 3), sizes)
    check_tensor("rendering_prev.vertices", rendering_prev.vertices, ("B", "N", 3), sizes)
    if rendering_t.image_size != rendering_prev.image_size:
        raise InputError(
            f"rendering_prev: image size {rendering_prev.image_size} differs from rendering_t's {rendering_t.image_size}"
        )
    check_tensor("triangles", triangles, (None, 3), floating=False)
    faces = triangles.long().to(rendering_t.vertices.device)
    batch, height, width = rendering_t.triangle_id.shape
    tid = rendering_t.triangle_id.long()
    covered = tid >= 0
    b = torch.arange(batch, device=tid.device)[:, None, None, None]
    corners = faces[tid.clamp(min=0)]  # (B, H, W, 3)
    lam = rendering_t.barycentrics[..., None]
    v_t = (lam * rendering_t.vertices[b, corners]).sum(-2)
    v_prev = (lam * rendering_prev.vertices[b, corners]).sum(-2)
    w = v_t - v_prev  # eq. 9
    depth_t = rendering_t.depth[:, 0]
    s_t = covered & (v_t[..., 2] >= torch.where(covered, depth_t, 0.0) - depth_tolerance)  # eq. 10-11
    ys, xs = torch.meshgrid(
        torch.arange(height, device=tid.device, dtype=w.dtype) + 0.5,
        torch.arange(width, device=tid.device, dtype=w.dtype) + 0.5,
        indexing="ij",
    )
    q_prev = torch.stack([xs - w[..., 0], ys - w[..., 1], v_prev[..., 2]], -1)  # eq. 12
    s_prev = visible_points(  # eq. 13
        q_prev, rendering_prev.triangle_id, rendering_prev.vertices, faces, tolerance=depth_tolerance
    )
    visible = s_t & s_prev
    flow = w[..., :2] * visible[..., None]  # eq. 14
    return flow.permute(0, 3, 1, 2), visible[:, None].to(w.dtype)


def warp(image_prev: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Bring frame t−1 onto frame t's grid: sample ``image_prev`` at ``q − flow(q)`` for every pixel centre q.

    Bilinear, differentiable w.r.t. the image and the flow; samples outside the image repeat the border.

    Args:
        image_prev: (B, C, H, W) frame t−1.
        flow: (B, 2, H, W) flow in pixels on frame t's grid (as returned by :func:`flow3d`).

    Returns:
        (B, C, H, W) warped frame t−1.
    """
    sizes: dict[str, int] = {}
    check_tensor("image_prev", image_prev, ("B", None, "H", "W"), sizes)
    check_tensor("flow", flow, ("B", 2, "H", "W"), sizes)
    _, _, height, width = image_prev.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, device=flow.device, dtype=flow.dtype) + 0.5,
        torch.arange(width, device=flow.device, dtype=flow.dtype) + 0.5,
        indexing="ij",
    )
    x = xs - flow[:, 0]
    y = ys - flow[:, 1]
    grid = torch.stack([2 * x / width - 1, 2 * y / height - 1], -1)
    return F.grid_sample(image_prev, grid.to(image_prev.dtype), mode="bilinear", padding_mode="border", align_corners=False)


def temporal_loss(
    y_t: torch.Tensor, y_prev: torch.Tensor, flow: torch.Tensor, visible: torch.Tensor, eps: float = 1e-8
) -> torch.Tensor:
    """L_tmp of eq. 15: the root mean square difference between Y^t and the warped Y^{t−1} over visible pixels.

    ``L = sqrt( Σ_{b, q, c} S(q) (Y^t_c(q) − warp(Y^{t−1}, F)_c(q))² / (C · Σ_{b, q} S(q)) + eps )``, pooled over
    the batch (0 … 1 for images in [0, 1]; √eps when nothing is visible). See the module docstring for how eq.
    15's ``warp(Y^t, F^{t→t−1})`` and its norm are read.

    Args:
        y_t: (B, C, H, W) output at frame t.
        y_prev: (B, C, H, W) output at frame t−1.
        flow: (B, 2, H, W) F^{t→t−1} from :func:`flow3d`.
        visible: (B, 1, H, W) visibility S^t · S^{t−1} from :func:`flow3d`.
        eps: added under the root so that the gradient stays finite for identical frames.

    Returns:
        Scalar loss, differentiable w.r.t. ``y_t``, ``y_prev`` and ``flow``.
    """
    sizes: dict[str, int] = {}
    check_tensor("y_t", y_t, ("B", "C", "H", "W"), sizes)
    check_tensor("y_prev", y_prev, ("B", "C", "H", "W"), sizes)
    check_tensor("visible", visible, ("B", 1, "H", "W"), sizes)
    diff = (y_t - warp(y_prev, flow)) ** 2 * visible
    return (diff.sum() / (visible.sum() * y_t.shape[1]).clamp(min=1) + eps).sqrt()


def check_video_flows(frames: torch.Tensor, flows: torch.Tensor, masks: torch.Tensor) -> None:
    """Raise InputError unless ``frames`` is (T ≥ 2, C, H, W) with (T−1, 2, H, W) ``flows`` and (T−1, 1, H, W) ``masks``."""
    sizes: dict[str, int] = {}
    check_tensor("frames", frames, ("T", "C", "H", "W"), sizes)
    if sizes["T"] < 2:
        raise InputError(f"frames: expected at least 2 frames, got {sizes['T']}")
    check_tensor("flows", flows, (sizes["T"] - 1, 2, "H", "W"), sizes)
    check_tensor("masks", masks, (sizes["T"] - 1, 1, "H", "W"), sizes)


def temporal_error(frames: torch.Tensor, flows: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """E_tmp (ref. [37] of the paper, Huang et al. 2017): RMS warping error of a video in [0, 255] units.

    ``E = sqrt( Σ_t Σ_{q,c} M_t(q) (255 · (Y^t_c(q) − warp(Y^{t−1}, F_t)_c(q)))² / (C · Σ_t Σ_q M_t(q)) )``
    over consecutive pairs t = 1 … T−1: a root mean square (not a mean absolute error), as in [37], whose
    mean of mask-weighted squared differences runs over pixels and frame pairs. Here the mean is pooled over
    the valid pixels and channels of all pairs (not over every pixel), so a small face region is not diluted
    by the unmasked background.

    Args:
        frames: (T, C, H, W) frames of one video in [0, 1].
        flows: (T−1, 2, H, W) flows; ``flows[t−1]`` is F^{t→t−1} on frame t's grid (3-D flow from
            :func:`flow3d` where fits exist, or any optical flow with the same sign convention).
        masks: (T−1, 1, H, W) where each flow is valid (e.g. the visibility from :func:`flow3d`).

    Returns:
        Scalar tensor, in [0, 255] units (0 when no pixel is valid).
    """
    check_video_flows(frames, flows, masks)
    diff = 255.0 * (frames[1:] - warp(frames[:-1], flows))
    squared = (diff**2 * masks).sum() / (masks.sum() * frames.shape[1]).clamp(min=1)
    return squared.sqrt()
