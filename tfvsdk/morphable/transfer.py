"""Carry a morphable model's identity basis onto another mesh by dense correspondence.

Used to give the built-in model's mesh (its UV layout, eyes, mouth, landmarks and expressions, on which the
SDK's texture and blending rules were tuned) the identity space of a learned model, such as the ICT Face
Model Light (:mod:`tfvsdk.morphable.ict_files`).

The correspondence: the target mesh's mean is brought onto the source's by a similarity on the inner 51
iBUG landmarks (Umeyama), then warped by a 3-D thin-plate spline (kernel r, regularised) that maps its 68
landmarks onto the source's; each target vertex takes the nearest point of the source surface (triangles
sampled at 15 barycentric points), and its basis rows are the source's at that point, interpolated
barycentrically and rotated back into the target's frame (the similarity's scale is not applied: a basis
in millimetres stays in millimetres). Vertices beyond the source's surface take its nearest border point's
rows.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ModelFileError

_INNER = np.arange(17, 68)
_STEPS = 4


def _similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale s, rotation R and translation t minimising |s R src + t − dst|² (Umeyama 1991)."""
    src_c, dst_c = src - src.mean(0), dst - dst.mean(0)
    u, sigma, vt = np.linalg.svd(dst_c.T @ src_c)
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ d @ vt
    scale = float((sigma * np.diag(d)).sum() / (src_c**2).sum())
    return scale, rotation, dst.mean(0) - scale * rotation @ src.mean(0)


def _thin_plate(src: np.ndarray, dst: np.ndarray, points: np.ndarray, smoothing: float = 1.0) -> np.ndarray:
    """``points`` (P, 3) moved by the 3-D thin-plate spline taking ``src`` (L, 3) to ``dst`` (L, 3)."""
    n = len(src)
    system = np.zeros((n + 4, n + 4))
    system[:n, :n] = np.linalg.norm(src[:, None] - src[None], axis=2) + smoothing * np.eye(n)
    affine = np.hstack([np.ones((n, 1)), src])
    system[:n, n:], system[n:, :n] = affine, affine.T
    rhs = np.zeros((n + 4, 3))
    rhs[:n] = dst
    weights = np.linalg.solve(system, rhs)
    kernel = np.linalg.norm(points[:, None] - src[None], axis=2)
    return kernel @ weights[:n] + np.hstack([np.ones((len(points), 1)), points]) @ weights[n:]


def _nearest_surface_points(points: np.ndarray, vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each point, the source triangle and barycentric weights (P, 3) of the nearest of its sample
    points."""
    steps = [(i / _STEPS, j / _STEPS) for i in range(_STEPS + 1) for j in range(_STEPS + 1 - i)]
    bary = torch.tensor([(a, b, 1.0 - a - b) for a, b in steps])
    corners = torch.from_numpy(vertices[triangles]).float()
    samples = torch.einsum("sk,tkc->tsc", bary, corners).reshape(-1, 3)
    query = torch.from_numpy(points).float()
    nearest = torch.cat([torch.cdist(chunk, samples).argmin(1) for chunk in query.split(1024)])
    return (nearest // len(steps)).numpy(), bary[nearest % len(steps)].double().numpy()


def transfer_identity_basis(target_mean: np.ndarray, target_landmarks: np.ndarray, source: dict[str, np.ndarray]) -> np.ndarray:
    """The source model's identity basis resampled on the target mesh.

    Args:
        target_mean: (N, 3) mean shape of the mesh that receives the basis (millimetres).
        target_landmarks: (68,) its vertex index of each iBUG landmark.
        source: arrays of the model giving the basis: ``mean`` (M, 3), ``triangles`` (T, 3), ``ibug68``
            (68,), ``id_basis`` (3M, K), in millimetres.

    Returns:
        (3N, K) float32 identity basis for the target mesh (rows x0, y0, z0, x1, …; α_id ~ N(0, I) as the
        source's).

    Raises:
        ModelFileError: a model without all 68 landmarks.
    """
    for name, landmarks in (("target", target_landmarks), ("source", source["ibug68"])):
        if np.asarray(landmarks).shape != (68,) or (np.asarray(landmarks) < 0).any():
            raise ModelFileError(f"identity transfer: the {name} model needs all 68 iBUG landmarks")
    mean = np.asarray(target_mean, np.float64)
    source_mean = np.asarray(source["mean"], np.float64)
    scale, rotation, shift = _similarity(mean[target_landmarks[_INNER]], source_mean[source["ibug68"][_INNER]])
    aligned = scale * mean @ rotation.T + shift
    warped = _thin_plate(aligned[target_landmarks], source_mean[source["ibug68"]], aligned)
    triangles = np.asarray(source["triangles"], np.int64)
    which, weights = _nearest_surface_points(warped, source_mean, triangles)
    k = source["id_basis"].shape[1]
    rows = np.asarray(source["id_basis"], np.float64).reshape(-1, 3, k)
    at_points = np.einsum("nc,ncxk->nxk", weights, rows[triangles[which]])
    return np.einsum("yx,nxk->nyk", rotation.T, at_points).reshape(-1, k).astype(np.float32)
