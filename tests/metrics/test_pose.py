"""E_pose and E_exp on fits with known differences."""

from __future__ import annotations

import math

import pytest
import torch

import tfvsdk
from tfvsdk.errors import InputError
from tfvsdk.metrics import euler_errors, expression_distance, landmark_distance, pose_angle_error, rotation_angle


def fit(yaw_deg: list[float], alpha_exp: torch.Tensor, found: list[bool] | None = None) -> tfvsdk.FaceFit:
    n = len(yaw_deg)
    camera = tfvsdk.Camera.from_euler(
        torch.deg2rad(torch.tensor(yaw_deg)), torch.full((n,), 0.1), torch.zeros(n), scale=torch.ones(n), translation=torch.zeros(n, 2)
    )
    return tfvsdk.FaceFit(torch.zeros(n, 4), alpha_exp, camera, (64, 64), found=None if found is None else torch.tensor(found))


def test_rotation_angle_of_a_known_turn():
    a = tfvsdk.Camera.from_euler(torch.zeros(2), torch.zeros(2), torch.zeros(2), scale=torch.ones(2), translation=torch.zeros(2, 2))
    b = tfvsdk.Camera.from_euler(torch.deg2rad(torch.tensor([10.0, -35.0])), torch.zeros(2), torch.zeros(2), scale=torch.ones(2), translation=torch.zeros(2, 2))
    assert rotation_angle(a.rotation, b.rotation).tolist() == pytest.approx([10.0, 35.0], abs=1e-4)


def test_pose_errors_against_a_still_source_and_without_a_face():
    output = fit([0.0, 5.0, 12.0], torch.zeros(3, 2), found=[True, True, False])
    source = fit([2.0], torch.zeros(1, 2))

    angle = pose_angle_error(output, source)
    euler = euler_errors(output, source)

    assert angle[:2].tolist() == pytest.approx([2.0, 3.0], abs=1e-3)
    assert euler[:2, 0].tolist() == pytest.approx([2.0, 3.0], abs=1e-3)
    assert euler[:2, 1:].abs().max() < 1e-3
    assert math.isnan(angle[2]) and torch.isnan(euler[2]).all()


def test_expression_distance_is_the_coefficient_norm():
    output = fit([0.0, 0.0], torch.tensor([[3.0, 4.0], [0.0, 1.0]]))
    source = fit([0.0, 0.0], torch.zeros(2, 2))
    assert expression_distance(output, source).tolist() == pytest.approx([5.0, 1.0])
    with pytest.raises(InputError, match="frames"):
        expression_distance(output, fit([0.0] * 3, torch.zeros(3, 2)))


def test_landmark_distance_averages_the_common_landmarks():
    a = torch.zeros(2, 3, 2)
    b = torch.tensor([[[3.0, 4.0], [0.0, 1.0], [float("nan"), 0.0]]]).expand(2, -1, -1)
    a[1] = float("nan")
    d = landmark_distance(a, b)
    assert d[0] == pytest.approx(3.0) and math.isnan(d[1])
