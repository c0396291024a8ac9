"""Mirror vertices completed from the mean shape: models whose files list them partly (the SFM) or not at
all (3DDFA's BFM) still get every mirror texture completion needs."""

from __future__ import annotations

import math

import numpy as np
import torch

import tfvsdk
from tfvsdk.data.synth import SynthConfig, Synthesizer, backgrounds
from tfvsdk.morphable import MorphableModel
from tfvsdk.morphable.builtin import build_default_arrays
from tfvsdk.morphable.symmetry import complete_symmetry
from tfvsdk.texture_confidence import face_texture


def grid(n: int = 21):
    """A mirror-symmetric height field (vertices (n², 3), triangles) and its exact mirror map."""
    k = torch.linspace(-1, 1, n, dtype=torch.float64)
    y, x = torch.meshgrid(-k, k, indexing="ij")
    vertices = torch.stack([x, y, torch.cos(2 * x) * torch.sin(y)], -1).view(-1, 3)
    idx = torch.arange(n * n).view(n, n)
    a, b, c, d = idx[:-1, :-1].flatten(), idx[:-1, 1:].flatten(), idx[1:, :-1].flatten(), idx[1:, 1:].flatten()
    return vertices, torch.cat([torch.stack([a, c, d], 1), torch.stack([a, d, b], 1)]), idx.flip(1).flatten()


def test_unknown_mirrors_are_found_and_listed_ones_kept():
    vertices, triangles, exact = grid()
    assert torch.equal(complete_symmetry(vertices, triangles), exact)
    listed = torch.full_like(exact, -1)
    listed[:50] = exact[:50]
    listed[0] = 7  # a file's choice is kept even where the geometry says otherwise
    completed = complete_symmetry(vertices, triangles, listed)
    assert completed[0] == 7 and torch.equal(completed[1:], exact[1:])


def test_a_vertex_without_a_partner_near_its_mirror_image_has_none():
    vertices, triangles, exact = grid()
    lonely = 3 * 21 + 2
    vertices[lonely, 2] += 0.5  # five edge lengths out of the surface
    completed = complete_symmetry(vertices, triangles)
    assert completed[lonely] == -1 and completed[exact[lonely]] == -1
    others = torch.ones_like(exact, dtype=torch.bool)
    others[torch.tensor([lonely, int(exact[lonely])])] = False
    assert torch.equal(completed[others], exact[others])


def test_a_model_without_a_mirror_map_gets_the_exact_one_and_can_be_textured():
    arrays = build_default_arrays()
    del arrays["symmetry"]
    model = MorphableModel.from_arrays(arrays, name="no mirrors")
    assert np.array_equal(model.symmetry.numpy(), build_default_arrays()["symmetry"])

    synth = Synthesizer(SynthConfig(size=128))
    camera = synth.cameras(torch.tensor([[math.radians(35.0), 0.0, 0.0]]), torch.tensor([0.6]), torch.zeros(1, 2))
    fit = tfvsdk.FaceFit(torch.zeros(1, model.n_id), torch.zeros(1, model.n_exp), camera, (128, 128))
    image = synth.render(fit, torch.tensor([[0.85, 0.65, 0.55]]), torch.tensor([[0.3, 0.2, 0.9, 0.5]]), backgrounds(1, 128, torch.Generator().manual_seed(0)))
    texture = face_texture(image, camera.project(model.shape(fit.alpha_id, fit.alpha_exp)), model, 128)
    assert float((texture.confidence > texture.seen).float().mean()) > 0.05, "the hidden side is completed from the seen one"


def test_the_sfm_gets_a_mirror_for_every_vertex(sfm_path):
    model = tfvsdk.morphable.load_npz(sfm_path)
    listed = np.load(sfm_path)["symmetry"]
    assert len(listed) == 845 and np.array_equal(model.symmetry[:845].numpy(), listed)
    assert int((model.symmetry < 0).sum()) == 0
    mirrored = model.mean[model.symmetry] * torch.tensor([-1.0, 1.0, 1.0])
    assert float((mirrored - model.mean).norm(dim=1).max()) < 3.0  # mm; the median edge is 3.4 mm
