"""The fitting solver's pieces against independent references: finite differences and dense solves."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tfvsdk_3ddfa import solver
from tfvsdk_3ddfa.pose_init import initial_pose
from tfvsdk_3ddfa.problem import Correspondences, Points

F64 = torch.float64


def random_state(frames: int, k_id: int, k_exp: int, seed: int = 0) -> solver.FitState:
    g = torch.Generator().manual_seed(seed)
    return solver.FitState(
        solver.so3_exp(torch.randn(frames, 3, generator=g, dtype=F64)),
        0.1 * torch.randn(frames, generator=g, dtype=F64),
        torch.randn(frames, 2, generator=g, dtype=F64),
        torch.randn(frames, k_id, generator=g, dtype=F64),
        torch.randn(frames, k_exp, generator=g, dtype=F64),
    )


def central_differences(func, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Jacobian of func at x by central differences, (*out, x.numel()) in float64."""
    cols = []
    for k in range(x.numel()):
        step = torch.zeros_like(x).view(-1)
        step[k] = eps
        step = step.view_as(x)
        cols.append((func(x + step) - func(x - step)) / (2 * eps))
    return torch.stack(cols, -1)


def test_so3_exp_gives_rotations_of_the_given_angle():
    omega = torch.tensor([[0.0, 0.0, 0.0], [1e-9, 0.0, 0.0], [0.0, 0.3, 0.0], [1.0, -2.0, 0.5]], dtype=F64)
    r = solver.so3_exp(omega)
    eye = torch.eye(3, dtype=F64)
    assert torch.allclose(r @ r.transpose(1, 2), eye.expand(4, 3, 3), atol=1e-12)
    angle = torch.acos(((r.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1))
    assert torch.allclose(angle, omega.norm(dim=1), atol=1e-7)
    assert torch.allclose(r[2], torch.tensor([[math.cos(0.3), 0, math.sin(0.3)], [0, 1, 0], [-math.sin(0.3), 0, math.cos(0.3)]], dtype=F64))


def test_landmark_jacobian_matches_finite_differences():
    b, l, k_id, k_exp = 2, 6, 4, 3
    g = torch.Generator().manual_seed(1)
    points = Points(
        torch.randn(b, l, 3, generator=g, dtype=F64),
        torch.randn(b, l, 3, k_id, generator=g, dtype=F64),
        torch.randn(b, l, 3, k_exp, generator=g, dtype=F64),
    )
    normal = torch.zeros(b, l, 2, dtype=F64)
    normal[:, :2] = torch.nn.functional.normalize(torch.randn(b, 2, 2, generator=g, dtype=F64), dim=-1)
    weight = torch.ones(b, l, dtype=F64)
    weight[1, 3] = 0
    corr = Correspondences(None, None, None, weight, normal)
    state = random_state(b, k_id, k_exp)
    targets = torch.randn(b, l, 2, generator=g, dtype=F64)
    sigma = torch.tensor([0.7, 1.3], dtype=F64)
    _, jac = solver.data_terms(points, state, targets, corr, sigma)

    def residual(delta: torch.Tensor) -> torch.Tensor:
        moved = state.step(delta[:, : 6 + k_exp], delta[:, 6 + k_exp :])
        return solver.data_terms(points, moved, targets, corr, sigma, jacobian=False)[0]

    numeric = central_differences(residual, torch.zeros(b, 6 + k_exp + k_id, dtype=F64))
    for i in range(b):
        assert torch.allclose(jac[i], numeric[i].view(2 * l, b, -1)[:, i], atol=1e-7)


def test_smoothness_jacobian_matches_finite_differences():
    f, k_exp = 5, 3
    state = random_state(f, 2, k_exp, seed=2)
    weights = solver.Weights(
        sigma=torch.full((f,), 0.5, dtype=F64), smoothness=2.0, face_radius=3.0, exp_motion=torch.rand(k_exp, dtype=F64)
    )
    _, jac = solver.smoothness_terms(state, weights)

    def residual(delta: torch.Tensor) -> torch.Tensor:
        return solver.smoothness_terms(state.step(delta, torch.zeros(f, 2, dtype=F64)), weights)[0]

    numeric = central_differences(residual, torch.zeros(f, 6 + k_exp, dtype=F64)).view(f - 2, 12 + k_exp, f, 6 + k_exp)
    for t in range(f - 2):
        for a in range(3):
            assert torch.allclose(jac[a, t], numeric[t, :, t + a], atol=1e-7)


def test_smoothness_vanishes_for_steady_motion():
    f = 6
    omega = torch.tensor([[0.0, 0.05, 0.0]], dtype=F64) * torch.arange(f, dtype=F64)[:, None]
    state = solver.FitState(
        solver.so3_exp(omega),
        torch.linspace(0, 0.1, f, dtype=F64),
        torch.linspace(0, 5, f, dtype=F64)[:, None].expand(f, 2),
        torch.zeros(f, 2, dtype=F64),
        torch.linspace(-1, 1, f, dtype=F64)[:, None].expand(f, 3),
    )
    weights = solver.Weights(sigma=torch.ones(f, dtype=F64), smoothness=1.0, face_radius=1.0)
    residual, _ = solver.smoothness_terms(state, weights)
    assert residual[:, 9:].abs().max() < 1e-12
    # a steady turn of θ per frame leaves only the chordal curvature, O(θ²)
    assert residual[:, :9].abs().max() < 0.05**2
    jittered = solver.FitState(state.rotation, state.log_scale, state.translation + 0.05 * torch.randn(f, 2, dtype=F64), state.alpha_id, state.alpha_exp)
    assert solver.smoothness_terms(jittered, weights)[0].abs().max() > 0.05


@settings(max_examples=20, deadline=None)
@given(frames=st.integers(1, 7), size=st.integers(1, 4), seed=st.integers(0, 1000))
def test_banded_solver_matches_a_dense_solve(frames, size, seed):
    g = torch.Generator().manual_seed(seed)
    n = frames * size
    a = torch.randn(n, n, generator=g, dtype=F64)
    band = torch.zeros(n, n, dtype=F64)
    for i in range(frames):
        for j in range(frames):
            if abs(i - j) <= 2:
                band[i * size : (i + 1) * size, j * size : (j + 1) * size] = 1
    m = (a + a.T) * band
    m = m + (m.abs().sum(1).max() + 1) * torch.eye(n, dtype=F64)

    def block(i: int, j: int) -> torch.Tensor:
        return m[i * size : (i + 1) * size, j * size : (j + 1) * size]

    empty = torch.zeros(0, size, size, dtype=F64)
    diag = torch.stack([block(i, i) for i in range(frames)])
    first = torch.stack([block(i, i + 1) for i in range(frames - 1)]) if frames > 1 else empty
    second = torch.stack([block(i, i + 2) for i in range(frames - 2)]) if frames > 2 else empty
    rhs = torch.randn(frames, size, 3, generator=g, dtype=F64)
    x = solver.solve_block_pentadiagonal(diag, first, second, rhs)
    reference = torch.linalg.solve(m, rhs.reshape(n, 3)).reshape(frames, size, 3)
    assert torch.allclose(x, reference, atol=1e-10)


@pytest.mark.parametrize("yaw", [-50.0, 0.0, 35.0])
def test_initial_pose_recovers_an_exact_weak_perspective_camera(yaw):
    g = torch.Generator().manual_seed(3)
    points = torch.randn(1, 20, 3, generator=g, dtype=F64)
    rotation = solver.so3_exp(torch.tensor([[0.1, math.radians(yaw), -0.2]], dtype=F64))
    scale, translation = 2.5, torch.tensor([[100.0, 80.0]], dtype=F64)
    rotated = points @ rotation.transpose(1, 2)
    targets = scale * rotated[..., :2] * torch.tensor([1.0, -1.0], dtype=F64) + translation[:, None]
    weight = torch.ones(1, 20, dtype=F64)
    weight[0, :3] = 0
    targets[0, :3] = 1e6
    r, log_s, t = initial_pose(points, targets, weight)
    assert torch.allclose(r, rotation, atol=1e-9)
    assert torch.allclose(log_s.exp(), torch.tensor([scale], dtype=F64))
    assert torch.allclose(t, translation)
