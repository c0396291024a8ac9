import pytest
import torch

from tfvsdk import Camera, FaceFit, InputError
from tfvsdk.expression import relative_expression, rest_expression


def fit_of(alpha_exp: torch.Tensor, found: torch.Tensor | None = None) -> FaceFit:
    b = alpha_exp.shape[0]
    camera = Camera.from_euler(torch.zeros(b), torch.zeros(b), torch.zeros(b), scale=torch.ones(b), translation=torch.zeros(b, 2))
    return FaceFit(alpha_id=torch.zeros(b, 3), alpha_exp=alpha_exp, camera=camera, image_size=(64, 64), found=found)


def test_the_drivers_changes_are_added_to_the_shown_faces_own_rest():
    """A driver that holds a frown (−1 on coefficient 0) and opens its jaw (coefficient 1) in frames 3–5,
    shown on a photo of a person who purses the lips (coefficient 2): the frown cancels, the jaw opens, the
    pursed lips stay."""
    held = torch.tensor([-1.0, 0.0, 0.0])
    driver = held.repeat(9, 1)
    driver[3:6, 1] = torch.tensor([0.5, 1.0, 0.5])
    photo = fit_of(torch.tensor([[0.0, 0.0, 0.8]]))
    moved = relative_expression(fit_of(driver), photo).alpha_exp
    expected = torch.tensor([0.0, 0.0, 0.8]).repeat(9, 1)
    expected[3:6, 1] = torch.tensor([0.5, 1.0, 0.5])
    assert torch.allclose(moved, expected)


def test_the_rest_is_the_median_of_the_frames_with_a_face():
    values = torch.tensor([[0.0], [0.2], [100.0], [0.4], [-50.0]])
    found = torch.tensor([True, True, False, True, False])
    assert torch.allclose(rest_expression(fit_of(values, found)), torch.tensor([[0.2]]))


def test_only_the_expression_changes():
    driver = fit_of(torch.randn(4, 3, generator=torch.Generator().manual_seed(0)))
    moved = relative_expression(driver, fit_of(torch.ones(1, 3)))
    assert moved.camera is driver.camera and moved.alpha_id is driver.alpha_id and moved.batch_size == 4


def test_fits_of_different_models_or_without_a_face_are_refused():
    with pytest.raises(InputError, match="3 expression coefficients, the face shown 4"):
        relative_expression(fit_of(torch.zeros(2, 3)), fit_of(torch.zeros(1, 4)))
    with pytest.raises(InputError, match="no frame with a face"):
        relative_expression(fit_of(torch.zeros(2, 3), torch.tensor([False, False])), fit_of(torch.zeros(1, 3)))
