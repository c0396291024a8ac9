import attrs
import pytest
import torch

from tfvsdk import Camera, Composition, Detection, FaceFit, InputError, Rendering


def camera(batch=2):
    return Camera(torch.ones(batch), torch.eye(3).repeat(batch, 1, 1), torch.zeros(batch, 2))


def fit(batch=2, **changes):
    args = dict(alpha_id=torch.zeros(batch, 5), alpha_exp=torch.zeros(batch, 3), camera=camera(batch), image_size=(64, 48))
    return FaceFit(**(args | changes))


def test_a_fit_can_be_sliced_concatenated_and_evolved():
    f = fit(3, found=torch.tensor([True, False, True]))
    assert f[1].found.tolist() == [False]
    both = FaceFit.cat([f[0], f[2]])
    assert both.batch_size == 2 and both.found.tolist() == [True, True]
    g = attrs.evolve(f, alpha_exp=torch.ones(3, 3))
    assert g.alpha_exp.sum() == 9 and f.alpha_exp.sum() == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"alpha_id": torch.zeros(3, 5)}, "FaceFit.alpha_id: expected shape"),
        ({"alpha_exp": torch.full((2, 3), float("nan"))}, "FaceFit.alpha_exp: contains NaN"),
        ({"landmarks": torch.zeros(2, 68)}, "FaceFit.landmarks"),
        ({"found": torch.ones(2)}, "FaceFit.found"),
        ({"image_size": (0, 10)}, "image_size"),
        ({"alpha_id": [[0.0] * 5] * 2}, "expected a torch.Tensor"),
    ],
)
def test_invalid_fits_are_rejected(changes, message):
    with pytest.raises(InputError, match=message):
        fit(**changes)


def test_cat_refuses_fits_of_different_image_sizes():
    with pytest.raises(InputError, match="different image sizes"):
        FaceFit.cat([fit(1), fit(1, image_size=(10, 10))])


def test_detection_requires_bool_found_flags():
    Detection(torch.zeros(2, 68, 2), torch.tensor([True, False]), (32, 32))
    with pytest.raises(InputError, match="Detection.found"):
        Detection(torch.zeros(2, 68, 2), torch.tensor([1, 0]), (32, 32))


def test_composition_checks_batch_agreement():
    Composition(torch.zeros(2, 5), torch.zeros(2, 3), camera(2), (64, 64))
    with pytest.raises(InputError, match="Composition.alpha_exp"):
        Composition(torch.zeros(2, 5), torch.zeros(1, 3), camera(2), (64, 64))


def rendering(**changes):
    b, h, w = 1, 4, 5
    args = dict(
        image=torch.zeros(b, 3, h, w),
        mask=torch.zeros(b, 1, h, w),
        depth=torch.full((b, 1, h, w), float("-inf")),
        triangle_id=-torch.ones(b, h, w, dtype=torch.int64),
        barycentrics=torch.zeros(b, h, w, 3),
        vertices=torch.zeros(b, 7, 3),
    )
    return Rendering(**(args | changes))


def test_rendering_validates_buffer_shapes_and_mask_range():
    assert rendering().image_size == (4, 5)
    with pytest.raises(InputError, match="Rendering.mask: expected shape"):
        rendering(mask=torch.zeros(1, 1, 4, 6))
    with pytest.raises(InputError, match=r"Rendering.mask: values must lie in \[0.0, 1.0\]"):
        rendering(mask=torch.full((1, 1, 4, 5), 2.0))
    with pytest.raises(InputError, match="Rendering.triangle_id"):
        rendering(triangle_id=torch.zeros(1, 4, 5))
