"""Synthetic landmark data for fitting tests: landmarks of known fits, jaw points on the visible outline.

Jaw landmarks are placed where a detector puts them: on the outer boundary of the projected jaw and cheeks.
The jaw region is the part of the mesh within 0.45 landmark radii of the model's jaw line (its contours,
else its jaw landmark vertices) in the frontal view — not the nose, whose profile is the face's outline at large yaw
but carries no jaw landmark. A ray leaves the projected centre of the face in the direction in which the
landmark's anchor vertex (on the frontal jaw line) would appear if the head had no yaw; the landmark is the
farthest crossing of the ray with a projected edge of the jaw region — the boundary of the union of its
projected triangles (brute force, float64, independent of the fitter's outline code). Placing them on fixed contour vertices instead would bias the
recovered yaw by several degrees (FINDINGS.md).
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import torch

import tfvsdk
from tfvsdk.morphable import load_bfm

SFM_JAW_ANCHORS = np.round(np.linspace(0, 16, 9)).astype(int)[:8]


def jaw_anchor_vertices(model: tfvsdk.MorphableModel) -> dict[int, int]:
    """Jaw landmark number → a model vertex on the frontal jaw line it should lie near."""
    lm = model.landmark_indices.numpy()
    if model.contour_right is not None:
        right, left = model.contour_right.numpy(), model.contour_left.numpy()
        anchors = {j: int(right[k]) for j, k in enumerate(np.round(np.linspace(0, len(right) - 1, 9)).astype(int)[:8])}
        anchors.update({16 - j: int(left[k]) for j, k in enumerate(np.round(np.linspace(0, len(left) - 1, 9)).astype(int)[:8])})
    else:
        anchors = {j: int(lm[j]) for j in range(17) if j != 8 and lm[j] >= 0}
    if lm[8] < 0:
        anchors[8] = int(lm[8]) if lm[8] >= 0 else int(model.contour_right.numpy()[-1])
    return anchors


def jaw_region_triangles(model: tfvsdk.MorphableModel, band: float = 0.45) -> np.ndarray:
    """Triangles whose vertices all lie within ``band`` landmark radii of the jaw line in the x-y plane."""
    mean = model.mean.double().numpy()
    lm = model.landmark_indices.numpy()
    if model.contour_right is not None:
        lines = [model.contour_right.numpy(), model.contour_left.numpy()]
    else:
        lines = [lm[:9][lm[:9] >= 0], lm[8:17][lm[8:17] >= 0]]
    fixed = mean[lm[lm >= 0]]
    radius = np.sqrt(((fixed - fixed.mean(0)) ** 2).sum(-1).mean())
    mean = mean * [1.0, 1.0, 0.0]
    dist = np.full(len(mean), np.inf)
    for line in lines:
        for a, b in zip(mean[line[:-1]], mean[line[1:]]):
            t = np.clip(((mean - a) @ (b - a)) / ((b - a) @ (b - a)), 0, 1)
            dist = np.minimum(dist, np.linalg.norm(mean - a - t[:, None] * (b - a), axis=1))
    tri = model.triangles.numpy()
    return tri[(dist[tri] <= band * radius).all(1)]


def outline_exit(screen: np.ndarray, triangles: np.ndarray, centre: np.ndarray, toward: np.ndarray) -> np.ndarray:
    """Farthest point where the ray centre → toward crosses a projected triangle edge.

    Args:
        screen: (N, 2) projected vertices.
        triangles: (T, 3) triangles.
        centre: (2,) ray origin (inside the projected face).
        toward: (J, 2) points giving each ray's direction.

    Returns:
        (J, 2) exit points; NaN for a ray that crosses no edge.
    """
    a = screen[triangles].reshape(-1, 2)
    b = screen[np.roll(triangles, -1, axis=1)].reshape(-1, 2)
    e = b - a
    d = toward - centre
    d = d / np.linalg.norm(d, axis=1, keepdims=True)

    def cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]

    ac = (a - centre)[None]
    denom = cross(d[:, None], e[None])
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = cross(ac, e[None]) / denom
        mu = cross(ac, d[:, None]) / denom
    hit = (np.abs(denom) > 1e-12) & (mu >= 0) & (mu <= 1) & (tau > 0)
    tau = np.where(hit, tau, -np.inf).max(1)
    return centre + np.where(np.isfinite(tau), tau, np.nan)[:, None] * d


def synthetic_landmarks(
    model: tfvsdk.MorphableModel, fit: tfvsdk.FaceFit, *, noise: float = 0.5, seed: int = 0
) -> torch.Tensor:
    """(B, 68, 2) float64 landmarks of ``fit``'s faces with Gaussian noise (std ``noise`` px per axis).

    Landmarks with a model vertex are that vertex projected; jaw landmarks without one lie on the projected
    outline (see the module docstring); the rest, and a jaw landmark whose ray misses the outline, are NaN.
    """
    lm = model.landmark_indices.numpy()
    with torch.no_grad():
        shape = model.shape(fit.alpha_id, fit.alpha_exp)
        screen = fit.camera.project(shape).double().numpy()[..., :2]
        angles = fit.camera.euler()
        no_yaw = tfvsdk.Camera.from_euler(
            torch.zeros_like(angles[:, 0]), angles[:, 1], angles[:, 2], scale=fit.camera.scale, translation=fit.camera.translation
        )
        frontal = no_yaw.project(shape).double().numpy()[..., :2]
    anchors = jaw_anchor_vertices(model)
    jaw = sorted(j for j in anchors if j != 8 or lm[8] < 0)
    tri = jaw_region_triangles(model)
    fixed = lm >= 0
    out = np.full((fit.batch_size, 68, 2), np.nan)
    inner = lm[[j for j in range(17, 68) if lm[j] >= 0]]
    for i, s in enumerate(screen):
        out[i, fixed] = s[lm[fixed]]
        centre = s[inner].mean(0)
        direction = frontal[i, [anchors[j] for j in jaw]] - frontal[i, inner].mean(0)
        out[i, jaw] = outline_exit(s, tri, centre, centre + direction)
    rng = np.random.default_rng(seed)
    out += rng.normal(0, noise, out.shape)
    return torch.from_numpy(out)


def random_fits(
    model: tfvsdk.MorphableModel,
    batch: int,
    *,
    seed: int = 0,
    max_yaw: float = 45.0,
    max_pitch: float = 15.0,
    max_roll: float = 10.0,
    exp_scale: float = 1.0,
    image_size: tuple[int, int] = (256, 256),
    face_px: float = 160.0,
) -> tfvsdk.FaceFit:
    """Known fits: α_id ~ N(0, I), α_exp ~ N(0, exp_scale²), angles uniform in ±max (degrees), a face about
    ``face_px`` pixels wide near the image centre."""
    g = torch.Generator().manual_seed(seed)

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(batch, generator=g) * 2 - 1) * math.radians(limit)

    width = float(model.mean[:, 0].max() - model.mean[:, 0].min())
    h, w = image_size
    return tfvsdk.FaceFit(
        alpha_id=torch.randn(batch, model.n_id, generator=g),
        alpha_exp=torch.randn(batch, model.n_exp, generator=g) * exp_scale,
        camera=tfvsdk.Camera.from_euler(
            uniform(max_yaw),
            uniform(max_pitch),
            uniform(max_roll),
            scale=torch.full((batch,), face_px / width) * (1 + 0.1 * (torch.rand(batch, generator=g) - 0.5)),
            translation=torch.tensor([w / 2, h / 2]) + 10 * (torch.rand(batch, 2, generator=g) - 0.5),
        ),
        image_size=image_size,
    )


def turning_head(model: tfvsdk.MorphableModel, yaws: list[float]) -> tfvsdk.FaceFit:
    """The mean face, neutral, turned to each of ``yaws`` (degrees), about 150 px wide in a 256² frame."""
    n = len(yaws)
    width = float(model.mean[:, 0].max() - model.mean[:, 0].min())
    return tfvsdk.FaceFit(
        torch.zeros(n, model.n_id),
        torch.zeros(n, model.n_exp),
        tfvsdk.Camera.from_euler(
            torch.deg2rad(torch.tensor(yaws)),
            torch.zeros(n),
            torch.zeros(n),
            scale=torch.full((n,), 150 / width),
            translation=torch.tensor([128.0, 138.0]).expand(n, 2),
        ),
        (256, 256),
    )


def render_face(
    model: tfvsdk.MorphableModel, fit: tfvsdk.FaceFit, *, background: float = 0.35
) -> tuple[torch.Tensor, torch.Tensor]:
    """Grey-shaded renders of ``fit``'s faces (a light from the upper right), for landmark detectors.

    Returns:
        (B, 3, H, W) images in [0, 1] and (B, N, 3) screen-space vertices.
    """
    from tfvsdk.raster import interpolate, rasterize, screen_to_clip

    with torch.no_grad():
        shape = model.shape(fit.alpha_id, fit.alpha_exp)
        screen = fit.camera.project(shape)
        rast = rasterize(screen_to_clip(screen, fit.image_size), model.triangles, fit.image_size)
        rotated = shape @ fit.camera.rotation.transpose(1, 2)
        tri = model.triangles
        face_normals = torch.linalg.cross(rotated[:, tri[:, 1]] - rotated[:, tri[:, 0]], rotated[:, tri[:, 2]] - rotated[:, tri[:, 0]])
        normals = torch.zeros_like(rotated).index_add_(1, tri.flatten(), face_normals.repeat_interleave(3, 1))
        normals = torch.nn.functional.normalize(normals, dim=-1)
        pixel_normals = interpolate(normals, rast, tri)
        light = torch.nn.functional.normalize(torch.tensor([0.3, 0.4, 1.0]), dim=0)
        shade = (pixel_normals * light).sum(-1).clamp(0, 1) * 0.8 + 0.15
        image = torch.where(rast[..., 3] > 0, shade, torch.full_like(shade, background))
    return image[:, None].expand(-1, 3, -1, -1).contiguous(), screen


def posterior_rotation_spread(
    model: tfvsdk.MorphableModel, truth: tfvsdk.FaceFit, landmarks: torch.Tensor, *, noise: float, exp_std: float
) -> torch.Tensor:
    """(B,) expected rotation error (degrees) of the Bayes estimator for each face of ``random_fits`` +
    ``synthetic_landmarks`` (α_id ~ N(0, I), α_exp ~ N(0, exp_std² I), landmark noise ``noise`` px): the
    spread of the rotation's posterior (:func:`tfvsdk_3ddfa.confidence.posterior_rotation_spread`),
    linearised at the true pose.
    """
    from tfvsdk_3ddfa.confidence import posterior_rotation_spread as spread
    from tfvsdk_3ddfa.problem import LandmarkProblem

    return spread(LandmarkProblem(model), truth, landmarks, noise=noise, exp_std=exp_std)


def bfm_like(tmp_path, stats, n: int = 50) -> tuple[tfvsdk.MorphableModel, dict]:
    """A small model in bfm_noneck_v3.pkl's layout, loaded as the docs say (bases whitened by the std)."""
    rng = np.random.default_rng(1)
    u = rng.normal(0, 5e4, (3 * n, 1))
    data = {
        "u": u.astype(np.float32),
        "w_shp": (rng.normal(0, 1, (3 * n, 50)) * 0.2).astype(np.float32),
        "w_exp": (rng.normal(0, 1, (3 * n, 20)) * 1e4).astype(np.float32),
        "tri": np.array([[0, 1, 2], [1, 2, 3]]).T,
        "keypoints": (np.repeat(np.arange(68) % n, 3) * 3 + np.tile([0, 1, 2], 68)).astype(np.int64),
    }
    path = tmp_path / "bfm_noneck_v3.pkl"
    with open(path, "wb") as f:
        pickle.dump(data, f)
    return load_bfm(path, id_std=stats.id_std.numpy(), exp_std=stats.exp_std.numpy()), data
