"""Distances between sets of image features: FID (Heusel et al. 2017, the paper's ref. [31]) and KID
(Bińkowski et al. 2018).

* Fréchet distance of the Gaussians fitted to two feature sets (eq. 6 of Heusel et al.):
  ``d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^{1/2})``. ``Tr((Σ₁ Σ₂)^{1/2})`` is computed as the sum of the
  square roots of the eigenvalues of the symmetric ``Σ₁^{1/2} Σ₂ Σ₁^{1/2}`` (same eigenvalues as Σ₁ Σ₂), in
  float64. Σ is the unbiased sample covariance (divisor n − 1), as pytorch-fid's ``np.cov``.
* Kernel Inception distance: the unbiased estimate of the squared MMD with the cubic polynomial kernel
  ``k(x, y) = (xᵀy / d + 1)³``, averaged over random subsets (Bińkowski et al.'s protocol: 100 subsets of
  1000 features each, or fewer when the sets are smaller). Unbiased, so it can be slightly negative.

FID proper uses the 2048-D pool features of :mod:`.inception`; these functions take any features.
"""

from __future__ import annotations

import torch

from ..checks import check_tensor
from ..errors import InputError

__all__ = ["feature_statistics", "frechet_distance", "kernel_distance"]


def feature_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of (N, D) features, N ≥ 2, in float64."""
    check_tensor("features", features, (None, None))
    if features.shape[0] < 2:
        raise InputError(f"features: a covariance needs at least 2 samples, got {features.shape[0]}")
    x = features.double()
    mu = x.mean(0)
    centred = x - mu
    return mu, centred.T @ centred / (x.shape[0] - 1)


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """Fréchet distance d² between N(μ₁, Σ₁) and N(μ₂, Σ₂) (see the module docstring).

    Args:
        mu1: (D,) mean of the first set.
        sigma1: (D, D) its covariance.
        mu2: (D,) mean of the second set.
        sigma2: (D, D) its covariance.

    Returns:
        d² ≥ 0 (clamped at 0 against rounding).
    """
    sizes: dict[str, int] = {}
    check_tensor("mu1", mu1, ("D",), sizes)
    check_tensor("sigma1", sigma1, ("D", "D"), sizes)
    check_tensor("mu2", mu2, ("D",), sizes)
    check_tensor("sigma2", sigma2, ("D", "D"), sizes)
    s1, s2 = sigma1.double(), sigma2.double()
    root = _psd_sqrt(0.5 * (s1 + s1.T))
    inner = root @ s2 @ root
    cross = torch.linalg.eigvalsh(0.5 * (inner + inner.T)).clamp_min(0).sqrt().sum()
    d2 = (mu1.double() - mu2.double()).square().sum() + s1.trace() + s2.trace() - 2 * cross
    return max(float(d2), 0.0)


def _mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    d = x.shape[1]

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return ((a @ b.T) / d + 1) ** 3

    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    m, n = x.shape[0], y.shape[0]
    return (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1)) + (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1)) - 2 * kxy.mean()


def kernel_distance(
    features1: torch.Tensor, features2: torch.Tensor, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID: mean and standard deviation over ``subsets`` random subsets of the unbiased MMD² estimate.

    Args:
        features1: (N₁, D) features, N₁ ≥ 2.
        features2: (N₂, D) features, N₂ ≥ 2.
        subsets: number of subset pairs drawn.
        subset_size: features per subset (capped at min(N₁, N₂)); subsets are drawn without replacement.
        seed: seed of the draws.

    Returns:
        ``(kid, std)``.
    """
    sizes: dict[str, int] = {}
    check_tensor("features1", features1, (None, "D"), sizes)
    check_tensor("features2", features2, (None, "D"), sizes)
    size = min(subset_size, features1.shape[0], features2.shape[0])
    if size < 2 or subsets < 1:
        raise InputError(f"features: KID needs at least 2 features per set and 1 subset, got {size} and {subsets}")
    g = torch.Generator().manual_seed(seed)
    x, y = features1.double(), features2.double()
    values = torch.stack([
        _mmd2_unbiased(x[torch.randperm(len(x), generator=g)[:size]], y[torch.randperm(len(y), generator=g)[:size]])
        for _ in range(subsets)
    ])
    return float(values.mean()), float(values.std()) if subsets > 1 else 0.0
