"""The three primitives — :func:`rasterize`, :func:`interpolate`, :func:`texture` — and their backends.

See :mod:`tfvsdk.raster` for the conventions. Each function picks a backend per call:

* ``"cuda"``: nvdiffrast.torch (CUDA tensors and an importable nvdiffrast are required);
* ``"torch"``: the SDK's implementation, on any device. Its discrete pass of :func:`rasterize` (coverage,
  depth test) runs as a numba kernel when numba is installed and the tensors are on the CPU, otherwise as
  vectorised PyTorch; the two give bit-identical results. ``TFVSDK_RASTER_KERNEL=torch`` (or ``numba``)
  forces one of them. The numba kernel splits large frames into two row bands on two threads when
  ``torch.get_num_threads()`` allows more than one;
* ``"auto"`` (default): ``"cuda"`` when possible, else ``"torch"``.

The backend that runs, and why, is logged (INFO, once per distinct message) by ``tfvsdk.raster.ops``.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from types import ModuleType

import numpy as np
import torch
import torch.nn.functional as F

from ..checks import check_tensor
from ..errors import InputError
from . import _nvdiffrast, _torch_kernel

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "cuda", "torch")
BOUNDARY_MODES = ("wrap", "clamp", "zero")
KERNEL_ENV = "TFVSDK_RASTER_KERNEL"
MAX_TRIANGLES = 1 << 24

_announced: set[str] = set()
_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


@functools.lru_cache(maxsize=1)
def _numba_kernel() -> ModuleType | None:
    try:
        from . import _numba_kernel as kernel
    except ImportError as exc:
        logger.info("numba is not available (%r): the rasterizer uses its pure-PyTorch kernel", exc)
        return None
    return kernel


def _announce(impl: str, why: str) -> str:
    message = f"rasterizer backend: {impl} ({why})"
    if message not in _announced:
        _announced.add(message)
        logger.info(message)
    return impl


def _resolve(backend: str, device: torch.device) -> str:
    """``"nvdiffrast"``, ``"numba"`` or ``"torch"`` for this call; logs the choice once."""
    if backend not in BACKENDS:
        raise InputError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    if backend == "torch":
        reason = "backend='torch' requested"
    elif device.type != "cuda":
        reason = f"tensors on {device.type}; nvdiffrast needs CUDA"
    else:
        dr, reason = _nvdiffrast.load()
        if dr is not None:
            try:
                _nvdiffrast.context(device)
            except Exception as exc:
                reason = f"nvdiffrast could not create a CUDA context ({exc!r})"
            else:
                return _announce("nvdiffrast", f"CUDA tensors on {device} and nvdiffrast is importable")
    if backend == "cuda":
        raise InputError(f"backend='cuda' is unavailable: {reason}")
    kernel = os.environ.get(KERNEL_ENV, "auto")
    if kernel not in ("auto", "numba", "torch"):
        raise InputError(f"{KERNEL_ENV}: expected 'auto', 'numba' or 'torch', got {kernel!r}")
    if kernel != "torch" and device.type == "cpu" and _numba_kernel() is not None:
        return _announce("numba", f"{reason}; SDK rasterizer, numba kernel for the discrete pass")
    if kernel == "numba":
        raise InputError(f"{KERNEL_ENV}=numba: numba is not installed or the tensors are not on the CPU")
    why = f"{KERNEL_ENV}=torch" if kernel == "torch" else "numba unavailable or tensors not on the CPU"
    return _announce("torch", f"{reason}; SDK rasterizer, pure-PyTorch discrete pass ({why})")


def _check_resolution(resolution: Sequence[int]) -> tuple[int, int]:
    values = tuple(resolution)
    if len(values) != 2 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in values):
        raise InputError(f"resolution: expected (height, width) of positive ints, got {resolution!r}")
    return int(values[0]), int(values[1])


def _check_triangles(tri: object, n_vertices: int) -> torch.Tensor:
    check_tensor("tri", tri, (None, 3), floating=False)
    if tri.is_floating_point() or tri.dtype == torch.bool:
        raise InputError(f"tri: expected an integer tensor, got {tri.dtype}")
    if tri.shape[0] >= MAX_TRIANGLES:
        raise InputError(f"tri: at most {MAX_TRIANGLES - 1} triangles are supported, got {tri.shape[0]}")
    if tri.numel():
        values = _host(tri)
        low, high = int(values.min()), int(values.max())
        if low < 0 or high >= n_vertices:
            raise InputError(f"tri: indices must lie in [0, {n_vertices - 1}], got [{low}, {high}]")
    return tri


def _host(x: torch.Tensor) -> np.ndarray | torch.Tensor:
    """A CPU tensor as a zero-copy numpy array (numpy's single-threaded reductions are the cheap ones for
    these sizes on a busy CPU), other devices unchanged."""
    return x.detach().numpy() if x.device.type == "cpu" else x


def rasterize(
    pos: torch.Tensor,
    tri: torch.Tensor,
    resolution: Sequence[int],
    *,
    backend: str = "auto",
) -> torch.Tensor:
    """Rasterize triangles given in clip space (nvdiffrast's ``rasterize``, instanced mode).

    Args:
        pos: (B, N, 4) float clip-space positions (x, y, z, w).
        tri: (T, 3) integer vertex indices (int32 or int64), T < 2**24.
        resolution: (height, width) of the output.
        backend: ``"auto"``, ``"cuda"`` or ``"torch"`` (see the module docstring).

    Returns:
        (B, H, W, 4) tensor of ``pos``'s float dtype (float32 on the CUDA backend): (u, v, z/w, triangle
        index + 1) at each pixel centre, all 0 where no triangle covers the pixel. u, v (perspective-correct
        barycentrics of vertices 0 and 1) receive gradients w.r.t. ``pos``; z/w and the index do not.
    """
    height, width = _check_resolution(resolution)
    check_tensor("pos", pos, (None, None, 4))
    tri = _check_triangles(tri, pos.shape[1])
    impl = _resolve(backend, pos.device)
    if impl == "nvdiffrast":
        dr, _ = _nvdiffrast.load()
        ctx = _nvdiffrast.context(pos.device)
        rast, _ = dr.rasterize(ctx, pos.float().contiguous(), tri.int().contiguous(), (height, width), grad_db=False)
        return rast
    dtype = pos.dtype if pos.dtype in _NUMPY_DTYPES else torch.float32
    if impl == "numba":
        out = _numba_kernel().rasterize(
            np.ascontiguousarray(_host(pos.detach().double())),
            np.ascontiguousarray(_host(tri), np.int32),
            height,
            width,
            _NUMPY_DTYPES[dtype],
            torch.get_num_threads(),
        )
        rast = torch.from_numpy(out)
    else:
        rast = _torch_kernel.rasterize(pos.detach().to(torch.float64), tri.long(), height, width, dtype)
    if pos.requires_grad and torch.is_grad_enabled():
        rast = _differentiable_uv(pos.to(dtype), tri.long(), rast)
    return rast


def _differentiable_uv(pos: torch.Tensor, tri: torch.Tensor, rast: torch.Tensor) -> torch.Tensor:
    """Recompute u, v of the covered pixels from their triangle ids with torch ops, so gradients reach pos.

    Uses nvdiffrast's homogeneous edge functions: for the pixel centre (fx, fy) in clip space,
    p_i = (x_i − fx w_i, y_i − fy w_i), a_0 = p_1 × p_2, a_1 = p_2 × p_0, a_2 = p_0 × p_1,
    (u, v) = (a_0, a_1) / (a_0 + a_1 + a_2).
    """
    batch, height, width, _ = rast.shape
    b, py, px = (rast[..., 3] > 0).nonzero(as_tuple=True)
    corners = pos[b[:, None], tri[rast[b, py, px, 3].long() - 1]]  # (M, 3, 4)
    fx = ((2 * px + 1).to(pos.dtype) / width - 1)[:, None]
    fy = ((2 * py + 1).to(pos.dtype) / height - 1)[:, None]
    ex = corners[..., 0] - fx * corners[..., 3]
    ey = corners[..., 1] - fy * corners[..., 3]
    a0 = ex[:, 1] * ey[:, 2] - ey[:, 1] * ex[:, 2]
    a1 = ex[:, 2] * ey[:, 0] - ey[:, 2] * ex[:, 0]
    a2 = ex[:, 0] * ey[:, 1] - ey[:, 0] * ex[:, 1]
    total = a0 + a1 + a2
    uv = torch.stack([a0 / total, a1 / total], -1)
    zeros = pos.new_zeros(batch, height, width, 2)
    return torch.cat([zeros.index_put((b, py, px), uv), rast[..., 2:]], -1)


def interpolate(
    attr: torch.Tensor,
    rast: torch.Tensor,
    tri: torch.Tensor,
    *,
    backend: str = "auto",
) -> torch.Tensor:
    """Interpolate vertex attributes at each pixel with the rasterizer's barycentrics (nvdiffrast's
    ``interpolate`` without image-space derivatives).

    ``out = u · A[tri[id, 0]] + v · A[tri[id, 1]] + (1 − u − v) · A[tri[id, 2]]``, 0 where empty.

    Args:
        attr: (B, N, C) or (N, C) (or (1, N, C), broadcast over the batch) float vertex attributes.
        rast: (B, H, W, 4) output of :func:`rasterize`.
        tri: (T, 3) the triangles given to :func:`rasterize`.
        backend: ``"auto"``, ``"cuda"`` or ``"torch"``.

    Returns:
        (B, H, W, C) interpolated attributes, differentiable w.r.t. ``attr`` and ``rast``'s u, v (hence
        w.r.t. the vertex positions given to :func:`rasterize`).
    """
    sizes: dict[str, int] = {}
    check_tensor("rast", rast, ("B", "H", "W", 4), sizes)
    if attr.dim() == 2:
        attr = attr[None]
    check_tensor("attr", attr, (None, None, None))
    if attr.shape[0] not in (1, sizes["B"]):
        raise InputError(f"attr: expected a batch of 1 or {sizes['B']}, got shape {tuple(attr.shape)}")
    tri = _check_triangles(tri, attr.shape[1])
    if _resolve(backend, rast.device) == "nvdiffrast":
        dr, _ = _nvdiffrast.load()
        return dr.interpolate(attr.float().contiguous(), rast.contiguous(), tri.int().contiguous())[0]
    return _interpolate_covered(attr, rast, tri)


def _interpolate_covered(attr: torch.Tensor, rast: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """(B, H, W, C) :func:`interpolate` of (B or 1, N, C) ``attr`` in PyTorch: computed at the covered pixels
    only, the corners' rows gathered with ``index_select`` (much cheaper than advanced indexing), 0 elsewhere."""
    flat = rast.reshape(-1, 4)
    pixel = (flat[:, 3] >= 1).nonzero()[:, 0]
    covered = flat.index_select(0, pixel)
    corners = tri.long().index_select(0, covered[:, 3].long() - 1)
    if attr.shape[0] > 1:
        corners = corners + (pixel // (rast.shape[1] * rast.shape[2]) * attr.shape[1])[:, None]
    u, v = covered[:, 0:1], covered[:, 1:2]
    weights = torch.cat([u, v, 1 - u - v], -1).to(attr.dtype)
    out = weighted_sum(weights, gather_rows(attr.reshape(-1, attr.shape[2]), corners))
    return attr.new_zeros(flat.shape[0], attr.shape[2]).index_copy_(0, pixel, out).view(*rast.shape[:3], -1)


def gather_rows(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(M, K, C) rows ``table[index[m, k]]`` of a (R, C) ``table`` for (M, K) ``index``."""
    return table.index_select(0, index.view(-1)).view(*index.shape, table.shape[1])


def weighted_sum(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """(M, C) Σ_k weights[:, k] · values[:, k] for (M, 3) weights and (M, 3, C) values, summed left to right
    (bit-identical to ``(weights[..., None] * values).sum(1)``)."""
    products = weights[..., None] * values
    return products[:, 0] + products[:, 1] + products[:, 2]


def texture(
    tex: torch.Tensor,
    uv: torch.Tensor,
    *,
    boundary_mode: str = "wrap",
    backend: str = "auto",
) -> torch.Tensor:
    """Bilinear texture lookup (nvdiffrast's ``texture`` with ``filter_mode='linear'``).

    Texel (row r, column c) of ``tex`` is centred at (s, t) = ((c + 0.5) / Wt, (r + 0.5) / Ht): a lookup at
    (s, t) reads texel-space position (s · Wt − 0.5, t · Ht − 0.5). nvdiffrast calls (s, t) = (0, 0) the
    *bottom*-left corner because its images are stored bottom-up (row 0 = bottom); in memory terms row 0
    is simply the row at t ≈ 0. Pass an image stored top-down with t growing downward and no flip is needed.

    Args:
        tex: (B, Ht, Wt, C) (or (1, Ht, Wt, C), broadcast) float texture.
        uv: (B, H, W, 2) texture coordinates (s, t).
        boundary_mode: ``"wrap"`` (nvdiffrast's default: the fractional part of s, t), ``"clamp"`` (to the
            centres of the border texels; no uv gradient there) or ``"zero"`` (outside texels are 0).
        backend: ``"auto"``, ``"cuda"`` or ``"torch"``.

    Returns:
        (B, H, W, C) samples, differentiable w.r.t. ``tex`` and ``uv``.
    """
    sizes: dict[str, int] = {}
    check_tensor("uv", uv, ("B", "H", "W", 2), sizes)
    check_tensor("tex", tex, (None, None, None, None))
    if tex.shape[0] not in (1, sizes["B"]):
        raise InputError(f"tex: expected a batch of 1 or {sizes['B']}, got shape {tuple(tex.shape)}")
    if boundary_mode not in BOUNDARY_MODES:
        raise InputError(f"boundary_mode: expected one of {BOUNDARY_MODES}, got {boundary_mode!r}")
    if _resolve(backend, uv.device) == "nvdiffrast":
        dr, _ = _nvdiffrast.load()
        return dr.texture(tex.contiguous(), uv.contiguous(), filter_mode="linear", boundary_mode=boundary_mode)
    _, tex_h, tex_w, _ = tex.shape
    image = tex.permute(0, 3, 1, 2).expand(sizes["B"], -1, -1, -1).to(uv.dtype)
    if boundary_mode == "wrap":
        image = F.pad(image, (1, 1, 1, 1), mode="circular")
        frac = uv - torch.floor(uv)
        size = uv.new_tensor([tex_w, tex_h])
        grid = (2 * frac * size + 2) / (size + 2) - 1
        padding = "border"
    else:
        grid = 2 * uv - 1
        padding = "border" if boundary_mode == "clamp" else "zeros"
    out = F.grid_sample(image, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    return out.permute(0, 2, 3, 1)


def coverage(pos: torch.Tensor, tri: torch.Tensor, resolution: Sequence[int]) -> torch.Tensor:
    """How many triangles cover each pixel centre, with :func:`rasterize`'s coverage rule (a diagnostic:
    a closed, non-self-intersecting mesh covers every pixel inside its outline an even number of times).

    Args:
        pos: (B, N, 4) clip-space positions.
        tri: (T, 3) integer vertex indices.
        resolution: (height, width).

    Returns:
        (B, H, W) int32 counts (always computed by the SDK's kernels, on ``pos``'s device).
    """
    height, width = _check_resolution(resolution)
    check_tensor("pos", pos, (None, None, 4))
    tri = _check_triangles(tri, pos.shape[1])
    if _resolve("torch", pos.device) == "numba":
        count = _numba_kernel().coverage(
            np.ascontiguousarray(_host(pos.detach().double())), np.ascontiguousarray(_host(tri), np.int32), height, width, torch.get_num_threads()
        )
        return torch.from_numpy(count)
    return _torch_kernel.coverage(pos.detach().to(torch.float64), tri.long(), height, width)
