"""Batched Levenberg–Marquardt for weak-perspective 3DMM fitting to 2-D landmarks.

Unknowns per frame: rotation R (updated multiplicatively, R ← exp([ω]×) R, so ω is a 3-vector of the
tangent space), log-scale ln s, translation t (pixels), α_exp; and α_id, per frame or shared by a clip.
The projection is the paper's weak-perspective camera C (§3.2; :class:`tfvsdk.Camera`):

    x = s (R X)_x + t_x,    y = −s (R X)_y + t_y,    X = S̄ + A_id α_id + A_exp α_exp   (eq. 1)

The energy is a MAP estimate: landmark residuals divided by the landmark noise σ (pixels), plus Gaussian
priors ‖α_id‖² (α_id ~ N(0, I) by construction of the model) and w_exp ‖α_exp‖², plus for clips a temporal
smoothness term on consecutive frames' pose and expression (see :func:`smoothness_terms`).

Parameter order in a frame's vector: ω (3), ln s (1), t (2), α_exp (K_exp), then α_id (K_id) when it is per
frame. Clips share α_id; their normal equations are block-banded in the frames (the smoothness term couples
frames up to two apart) with an arrow of identity columns, solved exactly by block elimination in O(frames).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
import torch

from .problem import Correspondences, Points

POSE = 6


def skew(v: torch.Tensor) -> torch.Tensor:
    """(..., 3) vectors → (..., 3, 3) matrices [v]× with [v]× u = v × u."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], -1).view(*v.shape, 3)


def so3_exp(omega: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula: (B, 3) axis-angle vectors (radians) → (B, 3, 3) rotations."""
    theta2 = omega.square().sum(-1, keepdim=True)[..., None]
    theta = theta2.sqrt()
    small = theta2 < 1e-12
    safe = torch.where(small, torch.ones_like(theta), theta)
    a = torch.where(small, 1 - theta2 / 6, torch.sin(safe) / safe)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(safe)) / (safe * safe))
    k = skew(omega)
    eye = torch.eye(3, dtype=omega.dtype, device=omega.device)
    return eye + a * k + b * (k @ k)


@attrs.define
class FitState:
    """The unknowns of B frames (float64 during the fit).

    Attributes:
        rotation: (B, 3, 3) rotations.
        log_scale: (B,) natural log of the scale s (pixels per model unit).
        translation: (B, 2) translation t (pixels).
        alpha_id: (B, K_id) identity (rows equal for a clip).
        alpha_exp: (B, K_exp) expression.
    """

    rotation: torch.Tensor
    log_scale: torch.Tensor
    translation: torch.Tensor
    alpha_id: torch.Tensor
    alpha_exp: torch.Tensor

    @property
    def scale(self) -> torch.Tensor:
        return self.log_scale.exp()

    def step(self, frame_delta: torch.Tensor, id_delta: torch.Tensor) -> FitState:
        """Apply (B, 6 + K_exp) frame increments and (B, K_id) identity increments."""
        return FitState(
            so3_exp(frame_delta[:, :3]) @ self.rotation,
            self.log_scale + frame_delta[:, 3],
            self.translation + frame_delta[:, 4:6],
            self.alpha_id + id_delta,
            self.alpha_exp + frame_delta[:, POSE:],
        )

    def where(self, keep: torch.Tensor, other: FitState) -> FitState:
        """Rows of ``self`` where (B,) ``keep``, else of ``other``."""

        def pick(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return torch.where(keep.view(-1, *([1] * (a.dim() - 1))), a, b)

        return FitState(*(pick(getattr(self, f.name), getattr(other, f.name)) for f in attrs.fields(FitState)))


@attrs.frozen
class Weights:
    """Weights of the energy.

    Attributes:
        sigma: (B,) landmark noise σ in pixels (residuals are divided by it).
        prior_id: weight of ‖α_id‖² (1 = the model's N(0, I) prior).
        prior_exp: weight of ‖α_exp‖² (1 / σ_exp² for an N(0, σ_exp² I) prior).
        smoothness: weight λ_t of the temporal term of clips (0 = none).
        face_radius: RMS radius of the face's landmarks in pixels (sets the smoothness term's units).
        exp_motion: (K_exp,) RMS landmark motion (pixels) per unit of each expression coefficient.
    """

    sigma: torch.Tensor
    prior_id: float = 1.0
    prior_exp: float = 1.0
    smoothness: float = 0.0
    face_radius: float = 1.0
    exp_motion: torch.Tensor | None = None


def data_terms(
    points: Points,
    state: FitState,
    targets: torch.Tensor,
    corr: Correspondences,
    sigma: torch.Tensor,
    *,
    jacobian: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Landmark residuals (p − y)/σ and their Jacobian; outline-matched landmarks keep only the component
    along the outline's normal (point-to-line).

    Args:
        points: model points of the correspondences.
        state: the current unknowns.
        targets: (B, L, 2) image landmarks in pixels (any finite value where ``corr.weight`` is 0).
        corr: the correspondences (their weights switch residuals off).
        sigma: (B,) landmark noise in pixels.
        jacobian: also return the Jacobian.

    Returns:
        (B, 2L) residuals and (B, 2L, 6 + K_exp + K_id) Jacobian w.r.t. (ω, ln s, t, α_exp, α_id), or None.
    """
    x = points.shape(state.alpha_id, state.alpha_exp)
    q = x @ state.rotation.transpose(1, 2)
    s = state.scale[:, None, None]
    flip = q.new_tensor([1.0, -1.0])
    projected = s * q[..., :2] * flip + state.translation[:, None]
    w = (corr.weight / sigma[:, None])[..., None]
    n = corr.normal
    outline = (n.square().sum(-1) > 0)[..., None, None]
    eye = torch.eye(2, dtype=q.dtype, device=q.device)
    projector = torch.where(outline, n[..., :, None] * n[..., None, :], eye)
    residual = ((projector @ (projected - targets)[..., None])[..., 0] * w).flatten(1)
    if not jacobian:
        return residual, None
    b, l = q.shape[:2]
    qx, qy, qz = q.unbind(-1)
    zero = torch.zeros_like(qx)
    d_rot = torch.stack([torch.stack([zero, qz, -qy], -1), torch.stack([qz, zero, -qx], -1)], -2) * s[..., None]
    d_scale = (s * q[..., :2] * flip)[..., None]
    d_trans = torch.eye(2, dtype=q.dtype, device=q.device).expand(b, l, 2, 2)
    gain = s[..., None] * flip[:, None]
    d_exp = torch.einsum("bij,bljk->blik", state.rotation[:, :2], points.exp_basis) * gain
    d_id = torch.einsum("bij,bljk->blik", state.rotation[:, :2], points.id_basis) * gain
    jac = projector @ torch.cat([d_rot, d_scale, d_trans, d_exp, d_id], -1) * w[..., None]
    return residual, jac.flatten(1, 2)


def smoothness_terms(state: FitState, weights: Weights) -> tuple[torch.Tensor, torch.Tensor]:
    """Temporal smoothness residuals on the second differences of consecutive frames, and their Jacobians.

    For frames f−1, f, f+1 the residual is λ_t/σ · (g_{f−1} − 2 g_f + g_{f+1}), where g measures each part
    of a frame as the landmark motion (pixels) it causes: the rotation matrix times r/√2 (r = face radius;
    the chordal distance ‖ΔR‖_F ≈ √2 θ for a small angle θ), r · ln s, t, and each expression coefficient
    times the RMS landmark motion per unit. A second difference is zero for motion at constant speed (for a
    steady turn of θ per frame the chord leaves O(θ²)), so the term removes jitter without slowing a turning
    head or shrinking its range, as a first difference would.

    Returns:
        residuals (F−2, M) and Jacobians (3, F−2, M, 6 + K_exp) w.r.t. frames f−1, f, f+1; M = 12 + K_exp.
    """
    r = state.rotation
    k_exp = state.alpha_exp.shape[1]
    gain = weights.smoothness / weights.sigma.mean()
    radius = weights.face_radius
    motion = weights.exp_motion if weights.exp_motion is not None else torch.ones(k_exp, dtype=r.dtype, device=r.device)
    rot_w = radius / math.sqrt(2.0)
    g = torch.cat([rot_w * r.flatten(1), radius * state.log_scale[:, None], state.translation, motion * state.alpha_exp], 1)
    residual = (g[:-2] - 2 * g[1:-1] + g[2:]) * gain

    cols = skew(r.transpose(1, 2))
    dg = r.new_zeros(r.shape[0], 12 + k_exp, POSE + k_exp)
    dg[:, :9, :3] = -rot_w * cols.permute(0, 2, 1, 3).reshape(-1, 9, 3)
    dg[:, 9, 3] = radius
    dg[:, 10:12, 4:6] = torch.eye(2, dtype=r.dtype, device=r.device)
    dg[:, 12:, POSE:] = torch.diag(motion)
    jac = torch.stack([dg[:-2], -2 * dg[1:-1], dg[2:]]) * gain
    return residual, jac


def robust_weights(residual: torch.Tensor, k_exp: int, threshold: float) -> torch.Tensor:
    """(F−2, M) square-root weights that turn the squared smoothness residual of each part (rotation, scale,
    translation, expression) of each frame triple into ρ(e) = e² for ‖e‖ ≤ c and c‖e‖ beyond.

    c is λ_t, i.e. a second difference of one σ of landmark motion: jitter of the size of the landmark noise
    is penalised quadratically, genuine accelerations of the head (a turn that starts or stops, a nod) only
    linearly, so they are not traded against the landmarks or the identity. The weights are held fixed within
    a Gauss–Newton step (iteratively reweighted least squares).
    """
    parts = (9, 1, 2, k_exp)
    norms = torch.cat(
        [chunk.norm(dim=1, keepdim=True).expand_as(chunk) for chunk in residual.detach().split(parts, dim=1)], 1
    )
    if threshold <= 0:
        return torch.ones_like(norms)
    return torch.where(norms > threshold, (threshold / norms.clamp_min(1e-12)).sqrt(), torch.ones_like(norms))


def solve_block_tridiagonal(diag: torch.Tensor, upper: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Solve a symmetric positive-definite block-tridiagonal system.

    Args:
        diag: (F, P, P) diagonal blocks.
        upper: (F−1, P, P) blocks (f, f+1); block (f+1, f) is its transpose.
        rhs: (F, P, M) right-hand sides.

    Returns:
        (F, P, M) solution, by block LDLᵀ elimination (forward sweep, back substitution).
    """
    f = diag.shape[0]
    factors, ys = [], []
    d, y = diag[0], rhs[0]
    for i in range(f):
        if i:
            u = upper[i - 1]
            x = torch.cholesky_solve(torch.cat([u, ys[-1]], -1), factors[-1])
            d = diag[i] - u.T @ x[:, : u.shape[1]]
            y = rhs[i] - u.T @ x[:, u.shape[1] :]
        factors.append(torch.linalg.cholesky(d))
        ys.append(y)
    out = [torch.cholesky_solve(ys[-1], factors[-1])]
    for i in range(f - 2, -1, -1):
        out.append(torch.cholesky_solve(ys[i] - upper[i] @ out[-1], factors[i]))
    return torch.stack(out[::-1])


def solve_block_pentadiagonal(diag: torch.Tensor, first: torch.Tensor, second: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Solve a symmetric positive-definite system whose blocks couple frames at most two apart.

    Pairs of frames form super-blocks, which makes the system block-tridiagonal
    (:func:`solve_block_tridiagonal`); an odd last frame is paired with a decoupled dummy.

    Args:
        diag: (F, P, P) diagonal blocks.
        first: (F−1, P, P) blocks (f, f+1).
        second: (F−2, P, P) blocks (f, f+2).
        rhs: (F, P, M) right-hand sides.

    Returns:
        (F, P, M) solution.
    """
    f, p = diag.shape[:2]
    n = f + f % 2
    pad = n - f
    eye = torch.eye(p, dtype=diag.dtype, device=diag.device)
    d = torch.cat([diag, eye.expand(pad, p, p)])
    u1 = torch.cat([first, diag.new_zeros(n - 1 - first.shape[0], p, p)])
    u2 = torch.cat([second, diag.new_zeros(max(n - 2 - second.shape[0], 0), p, p)])
    b = torch.cat([rhs, rhs.new_zeros(pad, p, rhs.shape[-1])])
    k = n // 2
    big = diag.new_zeros(k, 2 * p, 2 * p)
    big[:, :p, :p], big[:, p:, p:] = d[0::2], d[1::2]
    big[:, :p, p:] = u1[0::2]
    big[:, p:, :p] = u1[0::2].transpose(1, 2)
    up = diag.new_zeros(max(k - 1, 0), 2 * p, 2 * p)
    if k > 1:
        up[:, :p, :p] = u2[0::2][: k - 1]
        up[:, p:, :p] = u1[1::2][: k - 1]
        up[:, p:, p:] = u2[1::2][: k - 1]
    x = solve_block_tridiagonal(big, up, b.reshape(k, 2 * p, -1))
    return x.reshape(n, p, -1)[:f]


Matcher = Callable[[FitState], Correspondences]


def _damped(h: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    d = torch.diagonal(h, dim1=-2, dim2=-1)
    eps = 1e-9 * d.mean(-1, keepdim=True).clamp_min(1e-12) + 1e-12
    return h + torch.diag_embed(d * mu[..., None] + eps)


def fit_frames(
    points_of: Callable[[Correspondences], Points],
    match: Matcher,
    state: FitState,
    targets: torch.Tensor,
    weights: Weights,
    iterations: int,
    pose_iterations: int = 2,
) -> FitState:
    """Fit every frame independently (its own α_id), batched over frames.

    Args:
        points_of: model points of correspondences.
        match: correspondences for a state (re-matches the jaw outline).
        state: the initial state.
        targets: (B, L, 2) image landmarks (finite; weights switch missing ones off).
        weights: the energy's weights.
        iterations: Levenberg–Marquardt iterations.
        pose_iterations: leading iterations that move the pose only.
    """
    mu = torch.full_like(state.log_scale, 1e-3)
    k_exp = state.alpha_exp.shape[1]
    for it in range(iterations):
        corr = match(state)
        pts = points_of(corr)
        residual, jac = data_terms(pts, state, targets, corr, weights.sigma)
        if it < pose_iterations:
            jac = jac.clone()
            jac[..., POSE:] = 0
        prior = torch.cat(
            [
                torch.full_like(state.alpha_exp, weights.prior_exp),
                torch.full_like(state.alpha_id, weights.prior_id),
            ],
            1,
        )
        alpha = torch.cat([state.alpha_exp, state.alpha_id], 1)
        h = jac.transpose(1, 2) @ jac
        g = (jac.transpose(1, 2) @ residual[..., None])[..., 0]
        h[:, POSE:, POSE:] += torch.diag_embed(prior)
        g[:, POSE:] += prior * alpha
        cost = residual.square().sum(1) + (prior * alpha.square()).sum(1)
        delta = torch.linalg.solve(_damped(h, mu), -g[..., None])[..., 0]
        candidate = state.step(delta[:, : POSE + k_exp], delta[:, POSE + k_exp :])
        new_residual, _ = data_terms(pts, candidate, targets, corr, weights.sigma, jacobian=False)
        new_alpha = torch.cat([candidate.alpha_exp, candidate.alpha_id], 1)
        new_cost = new_residual.square().sum(1) + (prior * new_alpha.square()).sum(1)
        accept = new_cost <= cost
        state = candidate.where(accept, state)
        mu = torch.where(accept, mu * 0.3, mu * 10).clamp(1e-7, 1e7)
    return state


def fit_clip(
    points_of: Callable[[Correspondences], Points],
    match: Matcher,
    state: FitState,
    targets: torch.Tensor,
    weights: Weights,
    iterations: int,
    *,
    pose_iterations: int = 2,
    fixed_identity: bool = False,
    anchor: FitState | None = None,
) -> FitState:
    """Fit the F frames of one clip: one α_id for all, pose and α_exp per frame, temporal smoothness.

    The normal equations are [[T, C], [Cᵀ, A]] with T block-banded over frames (pose and expression blocks
    coupled to frames up to two apart by :func:`smoothness_terms`, made robust by :func:`robust_weights`), C
    the frames' coupling to α_id and A the identity block. α_id is solved through the Schur complement
    A − Cᵀ T⁻¹ C, then the frames.

    The energy is the sum of the F frames' single-image energies with their α_id tied: the identity prior is
    counted once per frame (weight F · prior_id), like the expression priors. Counted once for the clip, it
    would be outweighed by the F expression priors, and α_id would absorb the clip's mean expression and
    drift along the size direction (a larger camera scale with a shrunken face makes every α_exp smaller) —
    several σ on the built-in model.

    Args:
        points_of: model points of correspondences.
        match: correspondences for a state.
        state: initial state (rows of ``alpha_id`` equal).
        targets: (F, L, 2) image landmarks.
        weights: the energy's weights.
        iterations: Levenberg–Marquardt iterations.
        pose_iterations: leading iterations that move the pose only.
        fixed_identity: keep α_id as given (fit pose and expression only).
        anchor: up to two fixed frames just before the clip (the end of the previous window of a long
            clip), which the smoothness term ties the first frames to.
    """
    mu = torch.tensor(1e-3, dtype=state.log_scale.dtype, device=state.log_scale.device)
    k_exp = state.alpha_exp.shape[1]
    p = POSE + k_exp
    f = state.rotation.shape[0]
    fixed = 0 if anchor is None else anchor.rotation.shape[0]
    exp_prior = torch.full((k_exp,), weights.prior_exp, dtype=mu.dtype, device=mu.device)
    id_weight = f * weights.prior_id

    def smooth_parts(s: FitState) -> tuple[torch.Tensor, torch.Tensor] | None:
        joined = s if anchor is None else _prepend(anchor, s)
        if weights.smoothness <= 0 or joined.rotation.shape[0] < 3:
            return None
        residual, jac = smoothness_terms(joined, weights)
        weight = robust_weights(residual, k_exp, threshold=weights.smoothness)
        return residual * weight, jac * weight[None, :, :, None]

    def total_cost(residual: torch.Tensor, s: FitState, smooth: tuple | None) -> torch.Tensor:
        cost = residual.square().sum() + (exp_prior * s.alpha_exp.square()).sum()
        cost = cost + id_weight * s.alpha_id[0].square().sum()
        if smooth is not None:
            cost = cost + smooth[0].square().sum()
        return cost

    for it in range(iterations):
        corr = match(state)
        pts = points_of(corr)
        residual, jac = data_terms(pts, state, targets, corr, weights.sigma)
        if it < pose_iterations:
            jac = jac.clone()
            jac[..., POSE:] = 0
        jf, jid = jac[..., :p], jac[..., p:]
        n = f + fixed
        diag = jf.new_zeros(n, p, p)
        grad = jf.new_zeros(n, p)
        diag[fixed:] = jf.transpose(1, 2) @ jf
        grad[fixed:] = (jf.transpose(1, 2) @ residual[..., None])[..., 0]
        diag[fixed:, POSE:, POSE:] += torch.diag(exp_prior)
        grad[fixed:, POSE:] += exp_prior * state.alpha_exp
        first = jf.new_zeros(max(n - 1, 0), p, p)
        second = jf.new_zeros(max(n - 2, 0), p, p)
        smooth = smooth_parts(state)
        if smooth is not None:
            e, js = smooth
            for a in range(3):
                grad[a : n - 2 + a] += (js[a].transpose(1, 2) @ e[..., None])[..., 0]
                diag[a : n - 2 + a] += js[a].transpose(1, 2) @ js[a]
            first[: n - 2] += js[0].transpose(1, 2) @ js[1]
            first[1 : n - 1] += js[1].transpose(1, 2) @ js[2]
            second += js[0].transpose(1, 2) @ js[2]
        diag, grad, first, second = diag[fixed:], grad[fixed:], first[fixed:], second[fixed:]
        cost = total_cost(residual, state, smooth)
        diag = _damped(diag, mu.expand(f))
        if fixed_identity:
            delta_f = solve_block_pentadiagonal(diag, first, second, -grad[..., None])[..., 0]
            delta_id = torch.zeros_like(state.alpha_id[0])
        else:
            coupling = jf.transpose(1, 2) @ jid
            eye = torch.eye(jid.shape[-1], dtype=mu.dtype, device=mu.device)
            a_block = _damped((jid.transpose(1, 2) @ jid).sum(0) + id_weight * eye, mu)
            gid = (jid.transpose(1, 2) @ residual[..., None])[..., 0].sum(0) + id_weight * state.alpha_id[0]
            x = solve_block_pentadiagonal(diag, first, second, torch.cat([coupling, -grad[..., None]], -1))
            xc, xg = x[..., :-1], x[..., -1]
            schur = a_block - torch.einsum("fpk,fpj->kj", coupling, xc)
            delta_id = torch.linalg.solve(schur, -gid - torch.einsum("fpk,fp->k", coupling, xg))
            delta_f = xg - xc @ delta_id
        candidate = state.step(delta_f, delta_id.expand_as(state.alpha_id))
        new_residual, _ = data_terms(pts, candidate, targets, corr, weights.sigma, jacobian=False)
        new_cost = total_cost(new_residual, candidate, smooth_parts(candidate))
        if bool(new_cost <= cost):
            state, mu = candidate, (mu * 0.3).clamp_min(1e-7)
        else:
            mu = (mu * 10).clamp_max(1e7)
    return state


def _prepend(first: FitState, rest: FitState) -> FitState:
    return FitState(*(torch.cat([getattr(first, f.name), getattr(rest, f.name)]) for f in attrs.fields(FitState)))
