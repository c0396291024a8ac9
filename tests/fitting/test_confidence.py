"""Per-frame pose confidence of the ``3ddfa`` reconstructor: the posterior rotation spread of its fits."""

from __future__ import annotations

import pytest
import torch

import tfvsdk
from tfvsdk.metrics import pose_confidence, rotation_angle
from tfvsdk_3ddfa.confidence import posterior_rotation_spread as spread
from tfvsdk_3ddfa.problem import LandmarkProblem

from fitting_helpers import posterior_rotation_spread, random_fits, synthetic_landmarks


def test_the_spread_predicts_the_rotation_error_and_flags_frames_missing_landmarks(model):
    truth = random_fits(model, 64, seed=5, exp_scale=0.5, max_yaw=30)
    landmarks = synthetic_landmarks(model, truth, noise=0.5, seed=5)
    landmarks[48:, 17:60] = float("nan")  # brows, nose, eyes and outer lips lost: the jaw and inner lips remain
    landmarks[63] = float("nan")
    found = torch.isfinite(landmarks).all(-1).any(-1)
    rec = tfvsdk.create("reconstructor", "landmarks", model=model, landmark_noise=0.01, exp_std=0.5)
    fit = rec.fit_landmarks(tfvsdk.Detection(landmarks, found, truth.image_size))

    spread, unreliable = pose_confidence(rec, fit, max_degrees=1.5)

    error = rotation_angle(fit.camera.rotation, truth.camera.rotation)
    assert spread.shape == (64,) and torch.isnan(spread[63]) and bool(unreliable[63])
    full, partial = slice(0, 48), slice(48, 63)
    assert spread[partial].mean() > 1.6 * spread[full].mean()
    assert error[partial].mean() > 1.6 * error[full].mean(), "the spread predicts the larger error"
    assert 0.7 < float(error[full].mean() / spread[full].mean()) < 1.4
    assert unreliable[partial].float().mean() > unreliable[full].float().mean()


def test_the_spread_at_the_fit_is_close_to_the_spread_at_the_truth(model):
    truth = random_fits(model, 16, seed=2, exp_scale=0.5, max_yaw=30)
    landmarks = synthetic_landmarks(model, truth, noise=0.5, seed=2)
    rec = tfvsdk.create("reconstructor", "landmarks", model=model, exp_std=0.5)
    fit = rec.fit_landmarks(tfvsdk.Detection(landmarks, torch.ones(16, dtype=torch.bool), truth.image_size))

    at_truth = posterior_rotation_spread(model, truth, landmarks, noise=0.5, exp_std=0.5)
    at_fit = spread(LandmarkProblem(model), fit, landmarks, noise=0.5, exp_std=0.5)

    assert torch.allclose(at_fit, at_truth, rtol=0.15)


def test_a_reconstructor_without_uncertainty_says_so():
    class Plain(tfvsdk.Reconstructor):
        model = None

        def fit(self, images, *, clip=False, detection=None):
            raise NotImplementedError

    with pytest.raises(tfvsdk.PluginError, match="does not estimate"):
        pose_confidence(Plain(), None)
