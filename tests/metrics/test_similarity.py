"""SSIM against scikit-image's independent implementation, and its basic properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tfvsdk.errors import InputError
from tfvsdk.metrics import gaussian_window, ssim, ssim_map


def skimage_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> float:
    metrics = pytest.importorskip("skimage.metrics")
    return metrics.structural_similarity(
        x.permute(1, 2, 0).numpy(), y.permute(1, 2, 0).numpy(), channel_axis=2, data_range=data_range,
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    )


@pytest.mark.parametrize("damage", ["noise", "blur", "darker"])
def test_ssim_matches_scikit_image_on_a_damaged_photo(astronaut, damage):
    g = torch.Generator().manual_seed(0)
    if damage == "noise":
        other = (astronaut + 0.08 * torch.randn(astronaut.shape, generator=g, dtype=astronaut.dtype)).clamp(0, 1)
    elif damage == "blur":
        other = torch.nn.functional.avg_pool2d(astronaut, 5, stride=1, padding=2, count_include_pad=False)
    else:
        other = 0.7 * astronaut + 0.05

    ours = ssim(other, astronaut)

    assert ours.shape == (1,)
    assert float(ours) == pytest.approx(skimage_ssim(other[0], astronaut[0]), abs=1e-6)
    assert float(ours) < 0.99


def test_ssim_matches_scikit_image_in_8_bit_units(astronaut):
    x = (astronaut * 255).round()
    y = (x + 20 * torch.sin(torch.arange(128.0) / 3)).clamp(0, 255)
    assert float(ssim(y, x, data_range=255.0)) == pytest.approx(skimage_ssim(y[0], x[0], 255.0), abs=1e-6)


def test_ssim_is_one_for_identical_images_and_symmetric():
    x, y = torch.rand(2, 3, 24, 30, dtype=torch.float64).unbind(0)
    x, y = x[None], y[None]
    assert float(ssim(x, x)) == pytest.approx(1.0)
    assert float(ssim(x, y)) == pytest.approx(float(ssim(y, x)))
    assert float(ssim(x, y)) < 0.2


def test_the_window_is_the_normalised_gaussian_of_wang_et_al():
    g = gaussian_window(dtype=torch.float64)
    expected = np.exp(-0.5 * (np.arange(-5, 6) / 1.5) ** 2)
    np.testing.assert_allclose(g.numpy(), expected / expected.sum(), rtol=1e-12)


def test_the_map_at_one_position_is_the_direct_formula():
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(2, 1, 1, 11, 11, generator=g, dtype=torch.float64)
    w = torch.outer(gaussian_window(dtype=torch.float64), gaussian_window(dtype=torch.float64))
    mx, my = (w * x).sum(), (w * y).sum()
    vx, vy, cov = (w * (x - mx) ** 2).sum(), (w * (y - my) ** 2).sum(), (w * (x - mx) * (y - my)).sum()
    c1, c2 = 0.01**2, 0.03**2
    direct = (2 * mx * my + c1) * (2 * cov + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))

    assert ssim_map(x, y).shape == (1, 1, 1, 1)
    assert float(ssim_map(x, y)) == pytest.approx(float(direct), rel=1e-12)


def test_a_mask_restricts_the_mean_to_its_windows():
    x = torch.rand(1, 3, 40, 40, dtype=torch.float64)
    y = x.clone()
    y[..., :, 20:] = torch.rand(1, 3, 40, 20, dtype=torch.float64)
    left = torch.zeros(1, 1, 40, 40, dtype=torch.float64)
    left[..., :, :14] = 1

    assert float(ssim(y, x, mask=left)) == pytest.approx(1.0)
    assert float(ssim(y, x)) < 0.7


def test_ssim_names_a_too_small_image():
    with pytest.raises(InputError, match="at least 11"):
        ssim(torch.rand(1, 3, 10, 64), torch.rand(1, 3, 10, 64))
