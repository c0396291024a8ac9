"""E_id on known vectors: cosine and Euclidean distances, the reference of several identity frames."""

from __future__ import annotations

import math

import pytest
import torch

from tfvsdk.errors import InputError, NoFaceError
from tfvsdk.metrics import has_colour, identity_distance, luminance, reference_embedding


def test_cosine_distance_is_one_minus_the_cosine():
    reference = torch.tensor([1.0, 0.0])
    frames = torch.tensor([[2.0, 0.0], [1.0, 1.0], [0.0, -3.0], [float("nan"), 0.0]])

    e_id = identity_distance(frames, reference)

    assert e_id[:3].tolist() == pytest.approx([0.0, 1 - math.sqrt(0.5), 1.0])
    assert math.isnan(e_id[3])
    assert identity_distance(frames[:3], reference, metric="euclidean").tolist() == pytest.approx([1.0, 1.0, math.sqrt(10)])


def test_the_reference_is_the_mean_direction_of_the_frames_with_a_face():
    frames = torch.tensor([[3.0, 0.0], [0.0, 0.5], [float("nan")] * 2])

    reference = reference_embedding(frames)

    assert reference.tolist() == pytest.approx([math.sqrt(0.5)] * 2)
    with pytest.raises(NoFaceError, match="no face"):
        reference_embedding(frames[2:])


def test_per_frame_references_and_a_wrong_metric():
    a = torch.randn(4, 8)
    assert torch.allclose(identity_distance(a, a), torch.zeros(4), atol=1e-6)
    with pytest.raises(InputError, match="metric"):
        identity_distance(a, a, metric="l1")


def test_a_greyscale_copy_has_no_colour_and_keeps_the_luma():
    g = torch.Generator().manual_seed(0)
    photo = torch.rand(2, 3, 16, 16, generator=g)
    photo[:, :, :, :8] = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)  # a red half

    grey = luminance(photo)

    assert has_colour(photo) and not has_colour(grey)
    assert torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 1], grey[:, 2])
    assert float(grey[0, 0, 0, 0]) == pytest.approx(0.299)
    assert not has_colour(grey + 4 / 255 * torch.rand(grey.shape, generator=g)), "compression noise is not colour"
    with pytest.raises(InputError, match="images"):
        luminance(photo[:, :2])
