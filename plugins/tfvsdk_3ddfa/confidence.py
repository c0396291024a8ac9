"""How well 68 landmarks determine a fitted head pose: the spread of the rotation's posterior.

For a fixed pose the landmark model of :mod:`.solver` is linear-Gaussian in the coefficients (α_id ~ N(0, w_id⁻¹ I),
α_exp ~ N(0, σ_exp² I), landmark noise N(0, σ²) px; jaw landmarks point-to-line on the outline matched at
the given pose), so the coefficients are integrated out exactly:

    −2 log p(pose | y) = min_α E(pose, α) + log det ∂²E/∂α² + const,

E being the squared landmark residuals over σ plus the priors. This marginal over the 6 pose values
(rotation, log scale, translation) is minimised by Newton steps from the given pose and approximated by a
Gaussian at its mode, covariance 2 (∂²/∂pose²)⁻¹; the spread is the mean geodesic angle of its rotation
block, estimated from ``draws`` samples. An estimator that sees only these landmarks cannot do better on
average than this spread (up to the Gaussian approximation in the 6 pose values): a large spread flags a
frame whose pose is not determined by its landmarks (a profile, missing landmarks, a tiny face).
"""

from __future__ import annotations

import torch

from tfvsdk import FaceFit, InputError

from .problem import LandmarkProblem
from .solver import POSE, FitState, data_terms, skew


def posterior_rotation_spread(
    problem: LandmarkProblem,
    fit: FaceFit,
    landmarks: torch.Tensor,
    *,
    noise: float | torch.Tensor,
    exp_std: float,
    id_prior: float = 1.0,
    draws: int = 4000,
    seed: int = 0,
    newton_steps: int = 2,
) -> torch.Tensor:
    """(B,) expected rotation error (degrees) of the Bayes estimator for each face (see the module docstring).

    Args:
        problem: the fitting problem of the fit's model.
        fit: the pose and coefficients to start from (a fit of these landmarks, or the truth in a test); the
            jaw correspondences are matched at this pose.
        landmarks: (B, 68, 2) landmarks in pixels, NaN where missing.
        noise: landmark noise σ in pixels, one value or (B,).
        exp_std: σ_exp of the expression prior.
        id_prior: weight w_id of the identity prior.
        draws: samples of the rotation's Gaussian.
        seed: seed of the samples.
        newton_steps: Newton steps toward the marginal's mode.

    Returns:
        (B,) float64 spread in degrees; NaN for frames without a face (``fit.found`` False or no landmark).
    """
    if landmarks.shape != (fit.batch_size, 68, 2):
        raise InputError(f"landmarks: expected ({fit.batch_size}, 68, 2), got {tuple(landmarks.shape)}")
    found = fit.found_mask & torch.isfinite(landmarks).all(-1).any(-1)
    out = torch.full((fit.batch_size,), float("nan"), dtype=torch.float64, device=landmarks.device)
    if not bool(found.any()):
        return out
    rows = torch.nonzero(found).flatten()
    noise = torch.as_tensor(noise, dtype=torch.float64, device=landmarks.device).expand(fit.batch_size)[rows]
    fit, landmarks = fit[rows], landmarks[rows]
    f64 = torch.float64
    targets = torch.nan_to_num(landmarks.to(f64))
    valid = torch.isfinite(landmarks).all(-1)
    cam = fit.camera
    rotation, log_scale, translation = cam.rotation.to(f64), cam.scale.to(f64).log(), cam.translation.to(f64)
    a_id, a_exp = fit.alpha_id.to(f64), fit.alpha_exp.to(f64)
    corr = problem.match_jaw(
        problem.fixed_correspondences(valid), targets, valid, rotation, log_scale.exp(), translation, a_id, a_exp
    )
    points = problem.points(corr)
    sigma = noise.clone()
    prior = torch.cat([torch.full((problem.n_exp,), exp_std**-2, dtype=f64), torch.full((problem.n_id,), float(id_prior), dtype=f64)])

    def marginal(pose: torch.Tensor) -> torch.Tensor:
        state = FitState(
            torch.linalg.matrix_exp(skew(pose[:, :3])) @ rotation, pose[:, 3], pose[:, 4:], torch.zeros_like(a_id), torch.zeros_like(a_exp)
        )
        r0, jac = data_terms(points, state, targets, corr, sigma)
        j = jac[..., POSE:]
        chol = torch.linalg.cholesky(j.transpose(1, 2) @ j + torch.diag(prior))
        best = -torch.cholesky_solve(j.transpose(1, 2) @ r0[..., None], chol)[..., 0]
        cost = (r0 + (j @ best[..., None])[..., 0]).square().sum(1) + (prior * best.square()).sum(1)
        return cost + 2 * chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def derivatives(pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            pose = pose.detach().requires_grad_(True)
            cost = marginal(pose)
            grad = torch.autograd.grad(cost.sum(), pose, create_graph=True)[0]
            hessian = torch.stack([torch.autograd.grad(grad[:, k].sum(), pose, retain_graph=True)[0] for k in range(6)], 1)
        return cost.detach(), grad.detach(), 0.5 * (hessian + hessian.transpose(1, 2)).detach()

    pose = torch.cat([torch.zeros_like(translation[:, :1]).expand(-1, 3), log_scale[:, None], translation], 1)
    for _ in range(newton_steps):
        cost, grad, hessian = derivatives(pose)
        values, vectors = torch.linalg.eigh(hessian)
        values = values.abs().clamp_min(1e-9 * values.abs().amax(-1, keepdim=True))
        step = -(vectors @ ((vectors.transpose(1, 2) @ grad[..., None]) / values[..., None]))[..., 0]
        for _ in range(10):
            better = marginal(pose + step).detach() < cost
            pose = torch.where(better[:, None], pose + step, pose)
            step = torch.where(better[:, None], torch.zeros_like(step), step / 2)
            if bool(better.all()):
                break
    hessian = derivatives(pose)[2]
    values, vectors = torch.linalg.eigh(hessian)
    covariance = 2 * vectors @ torch.diag_embed(1 / values.clamp_min(1e-12)) @ vectors.transpose(1, 2)
    g = torch.Generator().manual_seed(seed)
    normal = torch.randn(landmarks.shape[0], draws, 3, generator=g, dtype=f64)
    block = covariance[:, :3, :3]
    chol = torch.linalg.cholesky(block + 1e-12 * torch.eye(3, dtype=f64))
    out[rows] = (normal @ chol.transpose(1, 2)).norm(dim=-1).mean(1).rad2deg()
    return out
