"""E_tmp, the temporal (warping) error of the paper's ref. [37] (Huang et al. 2017), per frame pair.

The error itself is :func:`tfvsdk.flow.temporal_error` (an RMS in [0, 255] units over the valid pixels);
this module adds the per-pair values and the two ways of getting the flow it needs:

* :func:`fit_flows`: the paper's 3-D flow (eq. 9–14, :func:`tfvsdk.flow.flow3d`) from per-frame 3DMM fits
  (a :class:`~tfvsdk.FaceFit` or a :class:`~tfvsdk.Composition`) — valid on the visible face only.
* :func:`tvl1_flows`: TV-L1 optical flow (OpenCV contrib, the ``flow`` extra), the paper's choice for face
  swapping where no 3-D ground truth exists (Table 3), with a forward–backward consistency mask.

Both return flows in the sign convention of :mod:`tfvsdk.flow`: ``flows[t−1]`` is F^{t→t−1} on frame t's
grid, and the point seen at pixel centre q in frame t was at ``q − F(q)`` in frame t−1.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import torch

from ..checks import check_range, check_tensor
from ..errors import InputError, PluginError
from ..flow import check_video_flows, flow3d, temporal_error
from ..morphable.model import vertices as screen_vertices
from ..records import Rendering

__all__ = ["fit_flows", "temporal_error", "tvl1_flows", "warping_errors"]

FLOW_INSTALL_HINT = "pip install 'tfvsdk[flow]'"


def warping_errors(frames: torch.Tensor, flows: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """E_tmp of every consecutive pair: ``errors[t−1]`` is :func:`tfvsdk.flow.temporal_error` of frames t−1, t.

    The pooled E_tmp of the whole video is ``sqrt(Σ_t n_t e_t² / Σ_t n_t)`` with n_t = ``masks[t−1].sum()``,
    which is what :func:`temporal_error` returns for all pairs at once.

    Args:
        frames: (T, C, H, W) frames in [0, 1], T ≥ 2.
        flows: (T−1, 2, H, W) flows F^{t→t−1} in pixels (from :func:`fit_flows` or :func:`tvl1_flows`).
        masks: (T−1, 1, H, W) where each flow is valid.

    Returns:
        (T−1,) RMS warping errors in [0, 255] units (0 for a pair with no valid pixel).

    Example:
        >>> still = torch.rand(1, 3, 8, 8).expand(4, -1, -1, -1)
        >>> warping_errors(still, torch.zeros(3, 2, 8, 8), torch.ones(3, 1, 8, 8))
        tensor([0., 0., 0.])
    """
    check_video_flows(frames, flows, masks)
    return torch.stack([temporal_error(frames[t : t + 2], flows[t : t + 1], masks[t : t + 1]) for t in range(len(flows))])


def fit_flows(fits: Any, model: Any, renderer: Any, *, depth_tolerance: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """3-D flows (eq. 9–14) between consecutive frames of a clip's fits.

    The face ``S = S̄ + A_id α_id + A_exp α_exp`` (eq. 2) of every frame is projected with its camera and
    rendered once, into the box that holds the faces of all frames (the flow is zero outside the face, and a
    displacement does not change with the crop); :func:`tfvsdk.flow.flow3d` then gives the flow of each pair.
    Pairs in which either frame has no face (``found`` False on a :class:`~tfvsdk.FaceFit`) get an all-zero
    mask.

    Args:
        fits: per-frame coefficients of T ≥ 2 consecutive frames: a :class:`~tfvsdk.FaceFit` or a
            :class:`~tfvsdk.Composition` (anything with ``alpha_id``, ``alpha_exp``, ``camera``, ``image_size``).
        model: the :class:`~tfvsdk.MorphableModel` the coefficients belong to.
        renderer: a :class:`~tfvsdk.Renderer` (e.g. ``tfvsdk.create("renderer", "raster")``).
        depth_tolerance: τ of eq. 11 and 13, pixels.

    Returns:
        ``(flows, masks)``: (T−1, 2, H, W) flows in pixels and (T−1, 1, H, W) float visibilities.
    """
    if fits.camera.batch_size < 2:
        raise InputError(f"fits: expected at least 2 frames, got {fits.camera.batch_size}")
    height, width = fits.image_size
    vertices = screen_vertices(model, fits)
    found = getattr(fits, "found", None)
    inside = vertices[found] if found is not None and bool(found.any()) else vertices
    low = inside[..., :2].detach().flatten(0, 1).amin(0).floor().clamp(min=0)
    high = inside[..., :2].detach().flatten(0, 1).amax(0).ceil().add(1)
    x0, y0 = (int(v) for v in low.tolist())
    x1, y1 = min(int(high[0]), width), min(int(high[1]), height)
    flows = vertices.new_zeros(len(vertices) - 1, 2, height, width)
    masks = vertices.new_zeros(len(vertices) - 1, 1, height, width)
    if x1 > x0 and y1 > y0:
        shift = vertices.new_tensor([x0, y0, 0.0])
        rendering = renderer.render(vertices - shift, model.triangles, (y1 - y0, x1 - x0))
        crop_flows, crop_masks = flow3d(
            _rows(rendering, slice(1, None)), _rows(rendering, slice(None, -1)), model.triangles, depth_tolerance=depth_tolerance
        )
        flows[..., y0:y1, x0:x1] = crop_flows
        masks[..., y0:y1, x0:x1] = crop_masks
    if found is not None:
        masks = masks * (found[1:] & found[:-1]).to(masks.dtype).view(-1, 1, 1, 1)
    return flows, masks


def _rows(rendering: Rendering, rows: slice) -> Rendering:
    """The frames ``rows`` of a batched rendering."""
    return Rendering(*(getattr(rendering, field.name)[rows] for field in attrs.fields(Rendering)))


def _cv2() -> Any:
    try:
        import cv2

        create = cv2.optflow.DualTVL1OpticalFlow_create
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"TV-L1 flow needs OpenCV's contrib modules ({exc!r}); install them with: {FLOW_INSTALL_HINT}") from None
    return cv2, create


def _grey(frame: torch.Tensor) -> np.ndarray:
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=frame.dtype)
    grey = (frame.detach().cpu() * weights.view(3, 1, 1)).sum(0) if frame.shape[0] == 3 else frame.detach().cpu()[0]
    return np.ascontiguousarray((grey.clamp(0, 1) * 255).round().to(torch.uint8).numpy())


def _sample(field: np.ndarray, x: np.ndarray, y: np.ndarray, cv2: Any) -> np.ndarray:
    """Bilinear samples of an (H, W, 2) field at pixel-index positions (border repeated)."""
    return cv2.remap(field, x.astype(np.float32), y.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def tvl1_flows(frames: torch.Tensor, *, consistency: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """TV-L1 optical flows (Zach et al. 2007, OpenCV's ``DualTVL1OpticalFlow`` with its defaults).

    The flow of each pair is computed from frame t to frame t−1 (so it lives on frame t's grid) on the
    grey frames (ITU-R 601 luma, uint8), and negated into :mod:`tfvsdk.flow`'s convention. With
    ``consistency`` the backward flow is computed too and a pixel is kept when the two agree (Sundaram et al.
    2010, as in the occlusion masks of [37] and of Lai et al. 2018): ``|u + v(q + u)|² ≤ 0.01 (|u|² +
    |v(q + u)|²) + 0.5``, u the flow from t to t−1 and v the flow from t−1 to t. That doubles the cost
    (≈ 1 s per 256² flow on this machine's CPU).

    Args:
        frames: (T, 3, H, W) or (T, 1, H, W) frames in [0, 1], T ≥ 2.
        consistency: mask pixels that fail the forward–backward check (occlusions, flow failures).

    Returns:
        ``(flows, masks)``: (T−1, 2, H, W) float32 flows in pixels and (T−1, 1, H, W) float masks.

    Raises:
        PluginError: OpenCV's contrib modules are missing (install the ``flow`` extra).
    """
    sizes: dict[str, int] = {}
    check_tensor("frames", frames, ("T", None, "H", "W"), sizes)
    if frames.shape[1] not in (1, 3) or sizes["T"] < 2:
        raise InputError(f"frames: expected (T >= 2, 1 or 3, H, W) frames, got {tuple(frames.shape)}")
    check_range("frames", frames, 0.0, 1.0)
    cv2, create = _cv2()
    solver = create()
    grey = [_grey(frame) for frame in frames]
    h, w = sizes["H"], sizes["W"]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    flows, masks = [], []
    for previous, current in zip(grey[:-1], grey[1:]):
        u = solver.calc(current, previous, None)  # current(q) ≈ previous(q + u)
        if consistency:
            v = solver.calc(previous, current, None)
            v_at = _sample(v, xs + u[..., 0], ys + u[..., 1], cv2)
            mismatch = ((u + v_at) ** 2).sum(-1)
            valid = mismatch <= 0.01 * ((u**2).sum(-1) + (v_at**2).sum(-1)) + 0.5
        else:
            valid = np.ones((h, w), bool)
        flows.append(torch.from_numpy(-u).permute(2, 0, 1))
        masks.append(torch.from_numpy(valid.astype(np.float32))[None])
    return torch.stack(flows).to(frames.device), torch.stack(masks).to(frames.device)
