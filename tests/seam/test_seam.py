"""The midline seam measure: a step down the middle of a face is found, smooth shading is not."""

import torch

import tfvsdk
from tfvsdk.seam import midline_points, midline_seam

SIZE = 64


def vertical_midline(x: float = 32.0) -> torch.Tensor:
    ys = torch.linspace(12, 52, 30)
    return torch.stack([torch.full_like(ys, x), ys], -1)[None]


def test_a_step_along_the_midline_is_a_seam_and_a_smooth_ramp_is_not():
    ramp = torch.linspace(0, 1, SIZE).expand(1, 3, SIZE, SIZE).clone()
    step = ramp.clone()
    step[..., 32:] += 0.3

    assert abs(float(midline_seam(ramp, vertical_midline())[0]) - 1) < 0.05
    assert float(midline_seam(step, vertical_midline())[0]) > 5


def test_a_step_beside_the_midline_is_not_counted():
    image = torch.full((1, 3, SIZE, SIZE), 0.5)
    image[..., 45:] = 0.9  # an edge 13 px from the midline, e.g. the face's outline
    image += 0.01 * torch.randn(image.shape, generator=torch.Generator().manual_seed(0))

    assert float(midline_seam(image, vertical_midline())[0]) < 1.5


def test_midline_points_lie_on_the_symmetry_plane_of_a_frontal_face():
    model = tfvsdk.create("model", "default")
    vertices = model.shape(torch.zeros(1, model.n_id), torch.zeros(1, model.n_exp))
    points = midline_points(model, vertices)

    assert points.shape[1] > 10
    assert float(points[..., 0].abs().max()) < 1e-4 * float(vertices[..., 0].abs().max())
