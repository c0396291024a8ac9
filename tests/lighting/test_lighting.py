"""SH lighting: a known light is recovered from a sphere's shading despite outliers; relighting keeps the mean."""

import torch

from tfvsdk.lighting import fit_lighting, relative_shading, relight, sh_basis, vertex_normals


def sphere_normals(n: int = 2000, seed: int = 0) -> torch.Tensor:
    """(1, n, 3) unit normals of the visible (z > 0) half of a sphere."""
    normals = torch.nn.functional.normalize(torch.randn(n, 3, generator=torch.Generator().manual_seed(seed)), dim=-1)
    normals[:, 2] = normals[:, 2].abs()
    return normals[None]


def test_a_light_from_the_left_is_recovered_despite_dark_outliers():
    normals = sphere_normals()
    light = torch.zeros(1, 9, 3)
    light[0, 0] = 0.8 / 3.1416 / 0.282  # ambient ≈ 0.8
    light[0, 3] = -0.4  # brighter toward −x
    colours = sh_basis(normals) @ light
    colours[:, :200] = 0.05  # hair: 10 % dark samples

    fitted = fit_lighting(colours, normals, torch.ones(1, 2000), ridge=1e-4)

    assert torch.allclose(fitted[0, :4], light[0, :4], atol=0.02)


def test_relative_shading_has_mean_one_and_relight_keeps_the_mean_colour():
    normals = sphere_normals()
    light = torch.zeros(1, 9, 3)
    light[0, 0], light[0, 1] = 2.0, 0.5
    weights = torch.ones(1, 2000)
    shading = relative_shading(normals, light, weights)
    assert torch.allclose(shading.mean(1), torch.ones(1, 3), atol=1e-4)

    image = torch.full((1, 3, 8, 250), 0.5)
    as_image = normals.view(1, 8, 250, 3).permute(0, 3, 1, 2)
    appearance = (sh_basis(normals) @ light).view(1, 8, 250, 3).permute(0, 3, 1, 2) / 6
    relit = relight(image, appearance, as_image, torch.ones(1, 1, 8, 250))
    assert abs(float(relit.mean()) - 0.5) < 0.01
    assert float(relit.std()) > 0.05  # the appearance's light pattern


def test_vertex_normals_of_a_screen_space_quad_face_the_viewer():
    # wound as the unwrap's facing test expects of a front face: (e1 × e2)_z < 0 in screen space
    vertices = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]])
    triangles = torch.tensor([[0, 1, 2], [2, 1, 3]])
    normals = vertex_normals(vertices, triangles)
    assert torch.allclose(normals, torch.tensor([0.0, 0.0, 1.0]).expand_as(normals))
