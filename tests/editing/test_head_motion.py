"""A reenacted face that rolls or moves takes its head with it: what lies beside the face (hair, an earring,
glasses) follows the face's similarity, the image far from it stays, and so do other faces."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tfvsdk
from tfvsdk import io
from tfvsdk.data.synth import SynthConfig, Synthesizer, backgrounds
from tfvsdk.editor import Editor
from tfvsdk.head_motion import apply_similarity, carry_back, face_similarity, follow_face

SIZE = 160


def similarity(degrees: float, scale: float, shift: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    angle = math.radians(degrees)
    matrix = scale * torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return matrix[None], torch.tensor([shift])


@settings(max_examples=30, deadline=None)
@given(degrees=st.floats(-60, 60), scale=st.floats(0.5, 2.0), dx=st.floats(-40, 40), dy=st.floats(-40, 40))
def test_the_similarity_between_two_poses_of_a_face_is_recovered(degrees, scale, dx, dy):
    points = torch.randn(1, 50, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 30 + 80
    matrix, shift = similarity(degrees, scale, (dx, dy))

    found_matrix, found_shift = face_similarity(points, apply_similarity(points, matrix.double(), shift.double()))

    assert torch.allclose(found_matrix, matrix.double(), atol=1e-9)
    assert torch.allclose(found_shift, shift.double(), atol=1e-7)


@pytest.fixture(scope="module")
def photo():
    """A synthetic photo (1, 3, SIZE, SIZE) with a red 'earring' just beside the face, its mesh and mask."""
    torch.set_num_threads(1)
    synth = Synthesizer(SynthConfig(size=SIZE))
    model, renderer = synth.model, tfvsdk.create("renderer", "raster")
    g = torch.Generator().manual_seed(2)
    camera = synth.cameras(torch.tensor([[0.2, 0.0, 0.0]]), torch.tensor([0.3]), torch.zeros(1, 2))
    fit = tfvsdk.FaceFit(torch.randn(1, model.n_id, generator=g).clamp(-2, 2), torch.zeros(1, model.n_exp), camera, (SIZE, SIZE))
    image = synth.render(fit, torch.tensor([[0.85, 0.65, 0.55]]), torch.tensor([[0.3, 0.2, 0.9, 0.5]]), backgrounds(1, SIZE, g))
    own = tfvsdk.morphable.vertices(model, fit)
    mask = renderer.render(own, model.triangles, (SIZE, SIZE)).mask
    rows = mask[0, 0].amax(1).nonzero()[:, 0]
    y = int(rows.float().mean())
    x = int(mask[0, 0, y].nonzero()[:, 0].max()) + 3  # just right of the face's outline on its middle row
    image[0, :, y - 3 : y + 4, x : x + 6] = torch.tensor([1.0, 0.0, 0.0])[:, None, None]
    return image, own, mask, model, renderer


def red_centre(image: torch.Tensor) -> torch.Tensor:
    """(x, y) pixel-centre coordinates of the strongly red pixels' centroid."""
    red = (image[0, 0] > 0.8) & (image[0, 1] < 0.25) & (image[0, 2] < 0.25)
    ys, xs = red.nonzero(as_tuple=True)
    return torch.stack([xs.float().mean(), ys.float().mean()]) + 0.5


def test_what_lies_beside_a_rolled_face_rolls_with_it_and_the_far_image_stays(photo):
    image, own, own_mask, model, renderer = photo
    centre = own[0, :, :2].mean(0)
    rotation, _ = similarity(20.0, 1.0, (0.0, 0.0))
    shift = centre - rotation[0] @ centre  # a roll of 20° about the face's centre
    new = apply_similarity(own, rotation, shift[None])
    matrix, found_shift = face_similarity(own, new)
    region = torch.maximum(own_mask, renderer.render(new, model.triangles, (SIZE, SIZE)).mask)

    out = follow_face(image, matrix, found_shift, region)

    before = red_centre(image)
    expected = rotation[0] @ before + shift
    assert float((before - expected).norm()) > 5, "the roll moves the earring by more than a few pixels"
    assert float((red_centre(out) - expected).norm()) < 1.5
    size = float(region.sum().sqrt())
    radius = int(0.15 * size) + 3 * int(0.35 * size) + 1  # the defaults' hold and reach
    far = torch.nn.functional.max_pool2d(region, 2 * radius + 1, stride=1, padding=radius) == 0
    assert int(far.sum()) > 1000
    assert torch.allclose(out.masked_select(far), image.masked_select(far), atol=1e-5), "the image far from the face stays"


def test_a_mask_carried_back_lands_on_the_face_it_was_moved_from(photo):
    image, own, own_mask, model, renderer = photo
    matrix, shift = similarity(25.0, 1.1, (8.0, -5.0))
    new_mask = renderer.render(apply_similarity(own, matrix, shift), model.triangles, (SIZE, SIZE)).mask

    back = carry_back(new_mask, matrix, shift) > 0.5

    overlap = (back & (own_mask > 0.5)).sum() / (back | (own_mask > 0.5)).sum()
    assert float(overlap) > 0.97


def test_pixels_marked_fixed_do_not_move(photo):
    image, own, own_mask, _, _ = photo
    matrix, shift = similarity(15.0, 1.1, (6.0, -4.0))
    fixed = torch.zeros_like(own_mask)
    fixed[..., 60:100, 100:140] = 1

    out = follow_face(image, matrix, shift, own_mask, fixed=fixed)

    assert torch.allclose(out[..., 60:100, 100:140], image[..., 60:100, 100:140], atol=1e-5)
    assert not torch.allclose(out[..., 60:100, 40:80], image[..., 60:100, 40:80], atol=1e-2), "the face moved"


def test_a_face_that_does_not_move_leaves_the_frame_as_it_is(photo):
    image, own, own_mask, _, _ = photo
    matrix, shift = face_similarity(own, own)

    assert torch.allclose(follow_face(image, matrix, shift, own_mask), image, atol=1e-5)


def test_bad_shapes_are_named(photo):
    image, own, own_mask, _, _ = photo
    matrix, shift = face_similarity(own, own)
    with pytest.raises(tfvsdk.InputError, match="matrix"):
        follow_face(image, matrix[0], shift, own_mask)
    with pytest.raises(tfvsdk.InputError, match="region"):
        follow_face(image, matrix, shift, own_mask[:, :, :10])
    with pytest.raises(tfvsdk.InputError, match="new"):
        face_similarity(own, own[:, :10])


def rolled(image: torch.Tensor, points: torch.Tensor, centre: torch.Tensor, degrees: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``image`` (1, 3, H, W) and its (L, 2) ``points`` rolled by ``degrees`` about ``centre`` (x, y)."""
    matrix, _ = similarity(degrees, 1.0, (0.0, 0.0))
    shift = centre - matrix[0] @ centre
    return follow_face(image, matrix, shift[None], torch.ones_like(image[:, :1])), points @ matrix[0].T + shift


def test_a_photo_reenacted_by_a_rolled_driver_rolls_its_head_with_its_face(photo, tmp_path):
    """The driver is the photo itself rolled by 30° about the face: reenacted with the driver's pose, the
    photo's earring must land where the driver shows it, not stay where the photo has it."""
    image, own, _, model, _ = photo
    landmarks = model.landmarks(own)[0, :, :2]
    driver, driver_landmarks = rolled(image, landmarks, own[0, :, :2].mean(0), 30.0)
    still, clip = tmp_path / "photo.png", tmp_path / "driver.mp4"
    io.write_image(still, io.to_uint8(image)[0])
    with io.VideoWriter(clip, 10.0) as writer:
        for _ in range(3):
            writer.write(io.to_uint8(driver)[0])

    editor = Editor(tfvsdk.create("composer", "reenact", pose="absolute"))
    editor.run({"source": still, "driver": clip}, tmp_path / "out.mp4",
               landmarks={"source": landmarks[None].numpy(), "driver": driver_landmarks[None].expand(3, -1, -1).numpy()})

    out = io.to_tensor([next(io.iter_frames(tmp_path / "out.mp4"))])
    assert float((red_centre(out) - red_centre(driver)).norm()) < 3.0
    assert float((red_centre(image) - red_centre(driver)).norm()) > 8.0
