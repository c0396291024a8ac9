import pytest
import torch

from tfvsdk import Camera, FaceFit, InputError
from tfvsdk.camera import euler_from_rotation
from tfvsdk.metrics.pose import rotation_angle
from tfvsdk.motion import relative_rotation, rest_rotation


def fit_of(yaw_pitch_roll_degrees: list[tuple[float, float, float]], found: list[bool] | None = None) -> FaceFit:
    angles = torch.tensor(yaw_pitch_roll_degrees).deg2rad()
    b = angles.shape[0]
    camera = Camera.from_euler(*angles.unbind(1), scale=torch.full((b,), 2.0), translation=torch.arange(2.0 * b).view(b, 2))
    return FaceFit(alpha_id=torch.zeros(b, 3), alpha_exp=torch.zeros(b, 2), camera=camera, image_size=(64, 64),
                   found=None if found is None else torch.tensor(found))


def test_a_photo_keeps_its_own_pose_while_the_driver_rests_and_turns_as_the_driver_turns():
    """A driver resting at 30° yaw that turns 20° further in frames 2–3; a photo tilted down 15° and turned
    −10°: the photo keeps its pose, then turns by the driver's 20°."""
    driver = fit_of([(30, 0, 0), (30, 0, 0), (50, 0, 0), (50, 0, 0), (30, 0, 0)])
    photo = fit_of([(-10, 15, 0)])
    moved = relative_rotation(driver, photo).camera.rotation
    own = photo.camera.rotation.expand(5, -1, -1)
    angle = rotation_angle(moved, own)
    assert torch.allclose(angle.float(), torch.tensor([0.0, 0.0, 20.0, 20.0, 0.0]), atol=0.05)
    assert torch.allclose(moved @ moved.transpose(1, 2), torch.eye(3).expand(5, -1, -1), atol=1e-5)
    turned = euler_from_rotation(moved[2:3]).rad2deg()[0]
    assert turned[0] > 0, "a turn to the driver's left turns the photo to its left"


def test_the_rest_is_the_median_pose_of_the_frames_with_a_face():
    fit = fit_of([(10, 0, 0), (12, 2, 0), (90, 40, 30), (14, 4, 0)], found=[True, True, False, True])
    yaw, pitch, roll = euler_from_rotation(rest_rotation(fit))[0].rad2deg()
    assert (yaw.item(), pitch.item(), roll.item()) == pytest.approx((12.0, 2.0, 0.0), abs=1e-4)


def test_only_the_rotation_changes():
    driver = fit_of([(0, 0, 0), (5, 5, 5)])
    moved = relative_rotation(driver, fit_of([(20, 0, 0)]))
    assert torch.equal(moved.camera.scale, driver.camera.scale) and torch.equal(moved.camera.translation, driver.camera.translation)
    assert moved.alpha_exp is driver.alpha_exp and moved.batch_size == 2


def test_a_fit_without_a_face_is_refused():
    with pytest.raises(InputError, match="no frame with a face"):
        relative_rotation(fit_of([(0, 0, 0)], found=[False]), fit_of([(0, 0, 0)]))
