"""Photometric error (masked MAE in 0–255) and PSNR on images with known differences."""

from __future__ import annotations

import math

import pytest
import torch

from tfvsdk.errors import InputError
from tfvsdk.metrics import detail_ratio, photometric_error, psnr


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


def test_the_detail_ratio_tells_a_blurred_output_from_a_noisy_one():
    g = torch.Generator().manual_seed(0)
    reference = torch.nn.functional.avg_pool2d(torch.rand(2, 3, 32, 32, generator=g), 3, stride=1, padding=1)  # some texture
    blurred = torch.nn.functional.avg_pool2d(reference, 5, stride=1, padding=2, count_include_pad=False)
    noisy = reference + 0.05 * torch.randn(2, 3, 32, 32, generator=g)

    torch.testing.assert_close(detail_ratio(reference, reference), torch.ones(2))
    assert (detail_ratio(blurred, reference) < 0.6).all()
    assert (detail_ratio(noisy, reference) > 1.1).all()


def test_the_detail_ratio_counts_only_gradients_inside_the_mask():
    reference = torch.zeros(1, 3, 16, 16)
    reference[..., ::2] = 1.0  # stripes everywhere
    output = reference.clone()
    output[..., :, 8:] = 0.5  # flat on the right half
    left = torch.zeros(1, 1, 16, 16)
    left[..., :, :7] = 1
    assert float(detail_ratio(output, reference, mask=left)) == 1.0
    assert float(detail_ratio(output, reference)) < 0.6
