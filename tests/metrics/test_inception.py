"""FID's Inception network: its layout matches the published file's, and the file is checked before use.

The published weights are not available offline, so these tests use randomly initialised copies; with the
real file (``TFVSDK_FID_INCEPTION=/path/to/pt_inception-2015-12-05-6726825d.pth``) the last test loads it.
"""

from __future__ import annotations

import os

import pytest
import torch

from tfvsdk.errors import ModelFileError
from tfvsdk.metrics import FID_INCEPTION_SHA256, InceptionFeatures, load_inception
from tfvsdk.metrics.inception import sha256_of


@pytest.fixture(scope="module")
def network() -> InceptionFeatures:
    torch.manual_seed(0)
    return InceptionFeatures().eval()


def published_layout(network: InceptionFeatures) -> dict[str, torch.Tensor]:
    """A state dict laid out as the published file: 94 conv+bn units (6 tensors each) and a 1008-way fc."""
    state = dict(network.state_dict())
    state["fc.weight"], state["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)
    return state


def test_the_state_dict_has_the_published_files_566_tensors(network):
    state = published_layout(network)
    assert len(state) == 566
    assert state["Mixed_7c.branch_pool.conv.weight"].shape == (192, 2048, 1, 1)
    assert state["Mixed_6e.branch7x7dbl_5.conv.weight"].shape == (192, 192, 1, 7)
    assert network.Conv2d_1a_3x3.bn.eps == 0.001


def test_features_are_2048_d_for_any_input_size(network):
    with torch.no_grad():
        a = network(torch.rand(2, 3, 64, 80))
        b = network(torch.rand(1, 3, 299, 299))
    assert a.shape == (2, 2048) and b.shape == (1, 2048)
    assert bool(torch.isfinite(a).all())


def test_a_file_with_another_hash_is_refused_before_it_is_read(network, tmp_path):
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(published_layout(network), path)

    with pytest.raises(ModelFileError, match="SHA-256"):
        load_inception(path)
    loaded = load_inception(path, expected_sha256=sha256_of(path))

    x = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        assert torch.equal(loaded(x), network(x))
    assert not any(p.requires_grad for p in loaded.parameters())


def test_missing_and_mismatched_files_are_named(network, tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_inception(tmp_path / "absent.pth")
    state = published_layout(network)
    del state["Mixed_5b.branch1x1.conv.weight"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(ModelFileError, match="do not fit"):
        load_inception(path, expected_sha256=None)


@pytest.mark.skipif(not os.environ.get("TFVSDK_FID_INCEPTION"), reason="TFVSDK_FID_INCEPTION (the published weights file) not set")
def test_the_published_file_loads():
    path = os.environ["TFVSDK_FID_INCEPTION"]
    assert sha256_of(path) == FID_INCEPTION_SHA256
    network = load_inception(path)
    with torch.no_grad():
        features = network(torch.rand(2, 3, 128, 128))
    assert features.shape == (2, 2048) and bool((features >= 0).all())
