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
    ({"n_down": 8, "base_channels": 128}, r"of [\d,]+ values \(\d+ MiB\); the file holds 32"),
    ({"n_res_blocks": 60}, r"of more than \d+ layers; the file holds 32 tensors"),
    ({"n_down": 60}, r"n_down: expected a value ≤ 8, got 60"),
    ({"n_res_blocks": 10**9}, r"n_res_blocks: expected a value ≤ 64"),
])
def test_metadata_asking_for_a_huge_network_is_refused(tmp_path, peak_added_mib, generator, message):
    path = weights_with_metadata(tmp_path / "bomb.safetensors", {f"t{i}": torch.zeros(1) for i in range(32)}, **generator)
    assert path.stat().st_size < 8192
    grown, error = peak_added_mib("import tfvsdk", f"tfvsdk.create('blender', 'bsn', weights={str(path)!r})")
    assert error.startswith("ModelFileError: ") and "bomb.safetensors: " in error
    assert re.search(message, error), error
    assert grown < 200


def test_saved_weights_still_rebuild_their_network(tmp_path):
    blender = tfvsdk.create("blender", "bsn", preset="small", norm="adain")
    blender.save(tmp_path / "w.safetensors")
    again = tfvsdk.create("blender", "bsn", weights=tmp_path / "w.safetensors")
    assert again.generator.config == blender.generator.config


@pytest.mark.parametrize(("generator", "message"), [
    ({"base_channels": 512}, r"^ModelFileError: .*config.json describes a network of [\d,]+ values"),
    ({"n_down": 60}, r"n_down: expected a value ≤ 8, got 60"),
])
def test_a_pretrained_folder_whose_config_asks_for_a_huge_network_is_refused(tmp_path, peak_added_mib, generator, message):
    folder = tmp_path / "bomb"
    folder.mkdir()
    safetensors.torch.save_file({f"t{i}": torch.zeros(1) for i in range(32)}, folder / "model.safetensors")
    config = {"generator_config": {"base_channels": SMALL.base_channels, "n_down": SMALL.n_down, **generator}}
    (folder / "config.json").write_text(json.dumps({"format": "tfvsdk-pretrained", "format_version": 1, "class": "x:y", "config": config}))
    grown, error = peak_added_mib("import tfvsdk.plugins", f"tfvsdk.plugins.create_pretrained('blender', 'bsn', {str(folder)!r})")
    assert re.search(message, error), error
    assert grown < 200
