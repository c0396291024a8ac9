"""The ``dlib`` identity embedder on synthetic people: one person's frames are closer to each other than to
another person's (E_id, :func:`tfvsdk.metrics.identity_distance`)."""

from __future__ import annotations

import pytest
import torch

import tfvsdk
from tfvsdk.data.synth import SynthConfig, Synthesizer
from tfvsdk.metrics import identity_distance, reference_embedding


@pytest.fixture(scope="module")
def embedder() -> tfvsdk.IdentityEmbedder:
    pytest.importorskip("dlib")
    try:
        return tfvsdk.create("identity_embedder", "dlib")
    except tfvsdk.PluginError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def people() -> list[torch.Tensor]:
    """Frames 0, 2, …, 8 of four synthetic people (moving heads, changing expressions), 160² pixels."""
    synth = Synthesizer(SynthConfig(frames=9, size=160, seed=0))
    with torch.no_grad():
        return [synth.clip(index)[0][::2] for index in range(4)]


def test_one_person_is_closer_to_themself_than_to_others(embedder, people):
    # The built-in model's people share one albedo and differ in shape only, so dlib finds them alike
    # (cosine distances 0.05-0.1); the same person across poses and expressions is still the closest.
    vectors = [embedder.embed(frames, video=True) for frames in people]

    assert all(v.shape == (5, 128) and bool(torch.isfinite(v).all()) for v in vectors)
    for i, own in enumerate(vectors):
        reference = reference_embedding(own[:1])
        same = float(identity_distance(own[1:], reference).mean())
        others = [float(identity_distance(other, reference).mean()) for j, other in enumerate(vectors) if j != i]
        assert same < sum(others) / len(others), (i, same, others)


def test_a_frame_without_a_face_gets_a_nan_row(embedder, people):
    images = torch.cat([people[0][:1], torch.full((1, 3, 160, 160), 0.5)])

    vectors = embedder.embed(images)

    assert bool(torch.isfinite(vectors[0]).all()) and bool(torch.isnan(vectors[1]).all())
    assert torch.isnan(identity_distance(vectors, vectors[0]))[1]


def test_given_landmarks_are_used_instead_of_detecting(embedder, people):
    detector = tfvsdk.create("detector", "dlib")
    detection = detector.detect(people[1])
    shifted = tfvsdk.Detection(detection.landmarks + 25.0, detection.found, detection.image_size)

    own = embedder.embed(people[1], detection=detection)
    misaligned = embedder.embed(people[1], detection=shifted)

    assert torch.allclose(own, embedder.embed(people[1]), atol=1e-6)
    assert float((own - misaligned).norm(dim=1).min()) > 0.05
