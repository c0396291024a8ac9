"""Low-order spherical-harmonic (SH) lighting of a Lambertian face: normals, shading, a robust light fit.

The irradiance of a convex Lambertian surface under distant light is, to within ~1 % on average, a quadratic
in its unit normal n (Ramamoorthi & Hanrahan 2001): E(n) = Σ_{k<9} L_k A_k Y_k(n) with the real SH basis
Y_k up to order 2 and the clamped-cosine factors A = (π, 2π/3, π/4). :func:`sh_basis` returns A_k Y_k(n),
so a colour is ρ ⊙ (sh_basis(n) @ L) for an albedo ρ and 9 × C light coefficients L.

A single photo cannot separate the albedo's overall colour from the light's (ρ ⊙ L has one degree of freedom
per channel too many). :func:`relative_shading` therefore normalises the shading to a mean of 1 per channel
over the face: dividing an image by it removes the light's *pattern* (direction, contrast) and keeps the
face's mean colour; multiplying by another face's relative shading applies that face's light pattern.

Normals are in screen space (x right, y down, z toward the viewer), the frame of
:meth:`~tfvsdk.Camera.project`; a fit and its shading must use the same frame.
"""

from __future__ import annotations

import math

import torch

from .checks import check_tensor
from .raster.ops import gather_rows

_Y00 = 0.5 * math.sqrt(1 / math.pi)
_Y1 = math.sqrt(3 / (4 * math.pi))
_Y2 = 0.5 * math.sqrt(15 / math.pi)
_Y20 = 0.25 * math.sqrt(5 / math.pi)
_Y22 = 0.25 * math.sqrt(15 / math.pi)
_A0, _A1, _A2 = math.pi, 2 * math.pi / 3, math.pi / 4


def sh_basis(normals: torch.Tensor) -> torch.Tensor:
    """(..., 9) convolved SH basis A_k Y_k(n) of (..., 3) unit ``normals`` (order: Y00, Y1-1, Y10, Y11, Y2-2,
    Y2-1, Y20, Y21, Y22 in the (y, z, x) convention of Ramamoorthi & Hanrahan)."""
    x, y, z = normals.unbind(-1)
    return torch.stack(
        [
            torch.full_like(x, _A0 * _Y00),
            _A1 * _Y1 * y,
            _A1 * _Y1 * z,
            _A1 * _Y1 * x,
            _A2 * _Y2 * x * y,
            _A2 * _Y2 * y * z,
            _A2 * _Y20 * (3 * z * z - 1),
            _A2 * _Y2 * x * z,
            _A2 * _Y22 * (x * x - y * y),
        ],
        -1,
    )


def face_normals(vertices: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """(B, T, 3) outward normals of the ``triangles`` of screen-space ``vertices`` (B, N, 3), of length twice
    the triangle's area: a front-facing triangle has (e1 × e2)_z < 0 in screen space (the facing test of
    :func:`~tfvsdk.texture.unwrap_texture`), so the outward normal is −(e1 × e2)."""
    faces = triangles.long()
    a, b, c = vertices[:, faces[:, 0]], vertices[:, faces[:, 1]], vertices[:, faces[:, 2]]
    return -torch.linalg.cross(b - a, c - a)


def vertex_normals(vertices: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """(B, N, 3) unit area-weighted vertex normals of screen-space ``vertices`` (B, N, 3), facing the viewer
    (+z) on the front of the face (:func:`face_normals` summed over each vertex's triangles)."""
    faces = triangles.long()
    face_normal = face_normals(vertices, triangles)
    normals = torch.zeros_like(vertices)
    for k in range(3):
        normals.index_add_(1, faces[:, k], face_normal)
    return torch.nn.functional.normalize(normals, dim=-1, eps=1e-12)


def pixel_normals(vertices: torch.Tensor, triangles: torch.Tensor, triangle_id: torch.Tensor,
                  barycentrics: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) unit normals at the pixels of a rendering (its ``triangle_id`` (B, H, W), −1 where empty,
    and ``barycentrics`` (B, H, W, 3)); 0 where empty."""
    normals = vertex_normals(vertices, triangles)
    batch, n = normals.shape[:2]
    covered = triangle_id >= 0
    corners = triangles.long()[triangle_id.clamp(min=0)]  # (B, H, W, 3)
    offset = (torch.arange(batch, device=vertices.device) * n).view(-1, 1, 1, 1)
    at = gather_rows(normals.reshape(-1, 3), (corners + offset).reshape(-1, 3)).view(*corners.shape, 3)
    mixed = (barycentrics[..., None] * at).sum(-2)
    mixed = torch.nn.functional.normalize(mixed, dim=-1, eps=1e-12) * covered[..., None]
    return mixed.permute(0, 3, 1, 2)


def fit_lighting(colours: torch.Tensor, normals: torch.Tensor, weights: torch.Tensor, *,
                 iterations: int = 3, ridge: float = 0.05) -> torch.Tensor:
    """Robust least-squares SH light (B, 9, C) with colours ≈ sh_basis(normals) @ L (constant albedo).

    Iteratively reweighted: after each solve, samples whose luminance residual exceeds 2.5 × its median
    absolute value get weight 0 (eyes, brows, lips, hair, specular highlights), so L describes the skin.

    Args:
        colours: (B, M, C) samples in [0, 1].
        normals: (B, M, 3) their unit normals.
        weights: (B, M) non-negative sample weights (0 = not used).
        iterations: reweighting rounds.
        ridge: Tikhonov weight on the order-1 and order-2 coefficients, relative to the data's weight.
    """
    sizes: dict[str, int] = {}
    check_tensor("colours", colours, ("B", "M", "C"), sizes)
    check_tensor("normals", normals, ("B", "M", 3), sizes)
    check_tensor("weights", weights, ("B", "M"), sizes)
    basis = sh_basis(normals)
    w = weights.clone()
    penalty = torch.ones(9, dtype=colours.dtype, device=colours.device)
    penalty[0] = 0
    for _ in range(iterations + 1):
        weighted = (basis * w[..., None]).transpose(1, 2)
        scale = w.sum(1).clamp(min=1e-12)[:, None, None]
        light = torch.linalg.solve(weighted @ basis + ridge * scale * torch.diag(penalty), weighted @ colours)
        residual = (colours - basis @ light).mean(-1).abs()
        typical = _weighted_median(residual, weights > 0)
        w = weights * (residual <= 2.5 * typical[:, None]).to(weights.dtype)
    return light


def _weighted_median(values: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """(B,) median of (B, M) ``values`` over the entries where ``keep`` is set (0 where none is)."""
    out = values.new_zeros(values.shape[0])
    for b in range(values.shape[0]):
        chosen = values[b][keep[b]]
        if chosen.numel():
            out[b] = chosen.median()
    return out


def relative_shading(normals: torch.Tensor, light: torch.Tensor, weights: torch.Tensor, *,
                     bounds: tuple[float, float] = (0.5, 2.0)) -> torch.Tensor:
    """Shading sh_basis(n) @ L divided by its ``weights``-weighted mean per channel (see the module docstring).

    Args:
        normals: (B, M, 3) unit normals.
        light: (B, 9, C) SH light.
        weights: (B, M) weights of the mean (e.g. the face's pixels or texels).
        bounds: the result is clamped to this range: the model's normals are smoother than a real face's, so a
            deep shadow or a highlight beyond it is the photo's detail, not the light's.

    Returns:
        (B, M, C) relative shading, mean 1 per channel over ``weights``.
    """
    shading = sh_basis(normals) @ light
    mean = (weights[..., None] * shading).sum(1, keepdim=True) / weights.sum(1).clamp(min=1e-12)[:, None, None]
    return (shading / mean.clamp(min=1e-6)).clamp(*bounds)


def relight(rendered: torch.Tensor, appearance: torch.Tensor, normals: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """A de-lit rendering (B, 3, H, W) under the light of the ``appearance`` frames (B, 3, H, W).

    The appearance's SH light is fitted (:func:`fit_lighting`) to its pixels under the face ``mask``
    (B, 1, H, W), with the rendering's pixel ``normals`` (B, 3, H, W) (:func:`pixel_normals`): the frame the
    face is pasted into shows how the new face must be lit. The rendering is multiplied by that light's
    :func:`relative_shading` (mean 1 over the mask), which changes its light pattern but not its mean colour.
    """
    sizes: dict[str, int] = {}
    check_tensor("rendered", rendered, ("B", 3, "H", "W"), sizes)
    check_tensor("appearance", appearance, ("B", 3, "H", "W"), sizes)
    check_tensor("normals", normals, ("B", 3, "H", "W"), sizes)
    check_tensor("mask", mask, ("B", 1, "H", "W"), sizes)
    flat = lambda x: x.flatten(2).transpose(1, 2)  # noqa: E731  (B, C, H, W) -> (B, H·W, C)
    weights = flat(mask)[..., 0]
    light = fit_lighting(flat(appearance), flat(normals), weights)
    shading = relative_shading(flat(normals), light, weights).transpose(1, 2).view_as(rendered)
    return (rendered * torch.where(mask > 0, shading, torch.ones_like(shading))).clamp(0, 1)
