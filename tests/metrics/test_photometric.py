"""Photometric error (masked MAE in 0–255) and PSNR on images with known differences."""

from __future__ import annotations

import math

import pytest
import torch

from tfvsdk.errors import InputError
from tfvsdk.metrics import photometric_error, psnr


def test_photometric_error_is_the_mean_absolute_difference_in_8_bit_units():
    x = torch.full((2, 3, 8, 8), 0.5)
    y = x.clone()
    y[0] += 10 / 255
    y[1, 0] -= 30 / 255

    assert photometric_error(y, x).tolist() == pytest.approx([10.0, 10.0], abs=1e-4)


def test_a_face_mask_averages_only_the_face():
    x = torch.zeros(1, 3, 10, 10)
    y = x.clone()
    y[..., :5, :] = 0.2
    face = torch.zeros(1, 1, 10, 10)
    face[..., :5, :] = 1

    assert float(photometric_error(y, x, mask=face)) == pytest.approx(51.0, abs=1e-4)
    assert float(photometric_error(y, x)) == pytest.approx(25.5, abs=1e-4)


def test_psnr_of_uniform_noise_matches_its_variance():
    x = torch.full((1, 3, 64, 64), 0.5, dtype=torch.float64)
    y = x + 0.1 * torch.where(torch.rand(x.shape, dtype=torch.float64) < 0.5, -1.0, 1.0)

    assert float(psnr(y, x)) == pytest.approx(20.0, abs=1e-6)
    assert float(psnr(x, x)) == 100.0
    assert float(psnr(255 * y, 255 * x, data_range=255.0)) == pytest.approx(20.0, abs=1e-6)


def test_psnr_mask_ignores_the_background():
    x = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    y = x.clone()
    y[..., 0, 0] = 1.0
    mask = torch.ones_like(x)
    mask[..., 0, 0] = 0

    assert float(psnr(y, x)) == pytest.approx(10 * math.log10(16))
    assert float(psnr(y, x, mask=mask)) == 100.0


def test_mismatched_shapes_are_named():
    with pytest.raises(InputError, match="y"):
        photometric_error(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))
