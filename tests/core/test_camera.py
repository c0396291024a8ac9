import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tfvsdk import Camera, InputError
from tfvsdk.camera import euler_from_rotation, rotation_from_euler
from tfvsdk.testing import cameras

angles = st.floats(-1.4, 1.4, allow_nan=False)


@given(angles, angles, angles)
def test_rotations_are_orthonormal_with_determinant_one(yaw, pitch, roll):
    r = rotation_from_euler(*(torch.tensor([a], dtype=torch.float64) for a in (yaw, pitch, roll)))
    assert torch.allclose(r @ r.transpose(1, 2), torch.eye(3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(torch.linalg.det(r), torch.ones(1, dtype=torch.float64))


@given(angles, angles, angles)
def test_euler_angles_round_trip(yaw, pitch, roll):
    a = torch.tensor([[yaw, pitch, roll]], dtype=torch.float64)
    assert torch.allclose(euler_from_rotation(rotation_from_euler(*a.T)), a, atol=1e-9)


def test_positive_yaw_turns_the_nose_toward_the_subjects_left():
    cam = Camera.from_euler(torch.tensor([0.5]), torch.zeros(1), torch.zeros(1), scale=torch.ones(1), translation=torch.zeros(1, 2))
    nose = cam.project(torch.tensor([[[0.0, 0.0, 1.0]]]))
    assert nose[0, 0, 0] > 0


def test_projection_flips_y_and_keeps_z_toward_the_viewer():
    cam = Camera(torch.tensor([2.0]), torch.eye(3)[None], torch.tensor([[100.0, 50.0]]))
    p = cam.project(torch.tensor([[[1.0, 1.0, 1.0], [0.0, -3.0, -2.0]]]))
    assert torch.allclose(p, torch.tensor([[[102.0, 48.0, 2.0], [100.0, 56.0, -4.0]]]))


@settings(max_examples=25)
@given(cameras(batch=3))
def test_projection_is_scaled_rotation_plus_translation(cam):
    v = torch.randn(3, 10, 3)
    p = cam.project(v)
    rotated = torch.einsum("bij,bnj->bni", cam.rotation, v)
    assert torch.allclose(p[..., 0], cam.scale[:, None] * rotated[..., 0] + cam.translation[:, None, 0], atol=1e-4)
    assert torch.allclose(p[..., 1], -cam.scale[:, None] * rotated[..., 1] + cam.translation[:, None, 1], atol=1e-4)
    # weak perspective preserves distances up to the scale
    d_model = (v[:, 0] - v[:, 1]).norm(dim=-1)
    d_screen = (p[:, 0] - p[:, 1]).norm(dim=-1)
    assert torch.allclose(d_screen, cam.scale * d_model, rtol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": torch.ones(2)}, "expected shape"),
        ({"scale": -torch.ones(1)}, "positive"),
        ({"rotation": torch.eye(3)[None] * 2}, "orthonormal"),
        ({"rotation": torch.diag(torch.tensor([1.0, 1.0, -1.0]))[None]}, "determinant"),
        ({"translation": torch.tensor([[math.nan, 0.0]])}, "NaN"),
        ({"translation": torch.zeros(1, 3)}, "Camera.translation"),
    ],
)
def test_invalid_cameras_are_rejected_with_a_clear_message(kwargs, message):
    args = {"scale": torch.ones(1), "rotation": torch.eye(3)[None], "translation": torch.zeros(1, 2)} | kwargs
    with pytest.raises(InputError, match=message):
        Camera(**args)


def test_indexing_and_concatenation_keep_the_batch_layout():
    cam = Camera(torch.tensor([1.0, 2.0, 3.0]), torch.eye(3).repeat(3, 1, 1), torch.zeros(3, 2))
    assert cam[1].scale.tolist() == [2.0]
    assert Camera.cat([cam[0], cam[2]]).scale.tolist() == [1.0, 3.0]
