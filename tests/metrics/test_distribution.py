"""FID's Fréchet distance and KID on features drawn from known Gaussians."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tfvsdk.errors import InputError
from tfvsdk.metrics import feature_statistics, frechet_distance, kernel_distance


def gaussian(n: int, d: int, *, shift: float = 0.0, scale: float = 1.0, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) * scale + shift


def test_fid_of_a_set_with_itself_is_zero():
    x = gaussian(500, 16)
    assert frechet_distance(*feature_statistics(x), *feature_statistics(x)) == pytest.approx(0.0, abs=1e-8)


def test_fid_of_known_gaussians_is_the_closed_form():
    # N(μ₁, s₁² I) vs N(μ₂, s₂² I): d² = ‖μ₁ − μ₂‖² + D (s₁ − s₂)²
    d = 8
    mu1, mu2 = torch.zeros(d, dtype=torch.float64), torch.full((d,), 0.5, dtype=torch.float64)
    eye = torch.eye(d, dtype=torch.float64)
    assert frechet_distance(mu1, eye, mu2, 4 * eye) == pytest.approx(d * 0.25 + d * 1.0)


def test_fid_matches_scipy_sqrtm_on_correlated_covariances():
    linalg = pytest.importorskip("scipy.linalg")
    a, b = gaussian(300, 6, seed=1) @ gaussian(6, 6, seed=2), gaussian(300, 6, seed=3) @ gaussian(6, 6, seed=4) + 1
    (mu1, s1), (mu2, s2) = feature_statistics(a), feature_statistics(b)
    root = linalg.sqrtm(s1.numpy() @ s2.numpy()).real
    expected = float(((mu1 - mu2) ** 2).sum()) + np.trace(s1.numpy() + s2.numpy() - 2 * root)

    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)
    np.testing.assert_allclose(s1.numpy(), np.cov(a.numpy(), rowvar=False), rtol=1e-12)


def test_fid_and_kid_grow_with_a_shifted_distribution():
    x = gaussian(400, 32, seed=5)
    same = gaussian(400, 32, seed=6)
    fids = [frechet_distance(*feature_statistics(x), *feature_statistics(gaussian(400, 32, shift=s, seed=7))) for s in (0.0, 0.3, 0.6)]
    kids = [kernel_distance(x, gaussian(400, 32, shift=s, seed=7), subsets=20, subset_size=200)[0] for s in (0.0, 0.3, 0.6)]

    assert fids[0] < fids[1] < fids[2]
    assert fids[2] - fids[0] == pytest.approx(32 * 0.36, rel=0.15)
    assert kids[0] < kids[1] < kids[2]
    assert abs(kernel_distance(x, same, subsets=20, subset_size=200)[0]) < 0.2 * kids[1]


def test_kid_is_the_unbiased_mmd_of_the_cubic_kernel():
    x, y = gaussian(4, 3, seed=8), gaussian(4, 3, shift=1.0, seed=9)

    def k(a, b):
        return (float(a @ b) / 3 + 1) ** 3

    pairs = [(i, j) for i in range(4) for j in range(4)]
    xx = sum(k(x[i], x[j]) for i, j in pairs if i != j) / 12
    yy = sum(k(y[i], y[j]) for i, j in pairs if i != j) / 12
    xy = sum(k(x[i], y[j]) for i, j in pairs) / 16

    kid, std = kernel_distance(x, y, subsets=1, subset_size=4)

    assert kid == pytest.approx(xx + yy - 2 * xy)
    assert std == 0.0


def test_too_few_samples_are_refused():
    with pytest.raises(InputError, match="at least 2"):
        feature_statistics(torch.zeros(1, 4))
