"""A BSN weights file whose metadata describes a network larger than its weights is refused before building."""

import json
import re

import pytest
import safetensors.torch
import torch

import tfvsdk
from tfvsdk.nn import GeneratorConfig

SMALL = GeneratorConfig.preset("small")


def weights_with_metadata(path, tensors, **generator):
    config = {"base_channels": SMALL.base_channels, "n_down": SMALL.n_down, "n_res_blocks": SMALL.n_res_blocks,
              "embed_channels": SMALL.embed_channels, "norm": "bsn", "hint_input": True, **generator}
    safetensors.torch.save_file(tensors, path, metadata={"format": "tfvsdk-bsn-blender/1", "generator": json.dumps(config)})
    return path


@pytest.mark.parametrize(("generator", "message"), [
    ({"base_channels": 512}, r"of [\d,]+ values \(\d+ MiB\); the file holds 32"),
    ({"n_down": 20}, r"of [\d,]+ values \(\d+ MiB\); the file holds 32"),
    ({"n_down": 60}, "of more than 63 layers; the file holds 32 tensors"),
    ({"n_res_blocks": 10**9}, "of more than 1000000002 layers"),
])
def test_metadata_asking_for_a_huge_network_is_refused(tmp_path, peak_added_mib, generator, message):
    path = weights_with_metadata(tmp_path / "bomb.safetensors", {f"t{i}": torch.zeros(1) for i in range(32)}, **generator)
    assert path.stat().st_size < 8192
    grown, error = peak_added_mib("import tfvsdk", f"tfvsdk.create('blender', 'bsn', weights={str(path)!r})")
    assert error.startswith("ModelFileError: ") and "bomb.safetensors: its metadata describes a network" in error
    assert re.search(message, error), error
    assert grown < 200


def test_saved_weights_still_rebuild_their_network(tmp_path):
    blender = tfvsdk.create("blender", "bsn", preset="small", norm="adain")
    blender.save(tmp_path / "w.safetensors")
    again = tfvsdk.create("blender", "bsn", weights=tmp_path / "w.safetensors")
    assert again.generator.config == blender.generator.config
