"""The ``bsn`` blender: the Blender contract, the "w/o BSN" switch, D for training, safe weight files."""

from __future__ import annotations

import json

import pytest
import safetensors.torch
import torch

import tfvsdk
from tfvsdk.nn import BSN
from tfvsdk.testing import check_blender


def inputs(size: int = 32, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(2, 1, size, size)
    mask[..., size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
    appearance = torch.rand(2, 3, size, size, generator=g)
    return torch.rand(2, 3, size, size, generator=g) * mask, appearance, appearance * (1 - mask), mask


def test_keeps_the_blender_contract_and_is_trainable():
    blender = tfvsdk.create("blender", "bsn")
    check_blender(blender)
    assert blender.trainable and isinstance(blender, torch.nn.Module)
    assert blender.discriminator is None


@pytest.mark.parametrize("norm", ["bsn", "adain"])
def test_norm_switch_selects_bsn_or_the_plain_adain_ablation(norm):
    blender = tfvsdk.create("blender", "bsn", norm=norm)
    kinds = {m.kind for m in blender.modules() if isinstance(m, BSN)}
    assert kinds == {norm}


def test_with_discriminator_builds_d_for_training():
    blender = tfvsdk.create("blender", "bsn", with_discriminator=True, scales=3)
    rendered, appearance, hint, mask = inputs()
    y = blender.blend(rendered, appearance, hint, mask)
    assert len(blender.discriminator(y)) == 3
    assert blender.discriminator.config.base_channels == blender.generator.config.base_channels
    y.mean().backward()
    assert all(p.grad is not None for p in blender.generator.parameters())


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    original = tfvsdk.create("blender", "bsn", norm="adain")
    path = tmp_path / "blender.safetensors"
    original.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blender.safetensors"]  # no temporary file left
    loaded = tfvsdk.create("blender", "bsn", weights=path)  # preset and norm come from the file
    assert loaded.generator.config == original.generator.config
    batch = inputs()
    with torch.no_grad():
        torch.testing.assert_close(loaded.blend(*batch), original.blend(*batch), rtol=0, atol=0)


def test_training_and_inference_files_load_into_each_other(tmp_path):
    trained = tfvsdk.create("blender", "bsn", with_discriminator=True)
    trained.save(tmp_path / "train.safetensors")
    inference = tfvsdk.create("blender", "bsn", weights=tmp_path / "train.safetensors")
    assert inference.discriminator is None
    torch.testing.assert_close(inference.generator.head.conv.weight, trained.generator.head.conv.weight)
    inference.save(tmp_path / "inference.safetensors")
    resumed = tfvsdk.create("blender", "bsn", weights=tmp_path / "inference.safetensors", preset="small", with_discriminator=True)
    assert resumed.discriminator is not None


def test_files_and_configurations_from_before_the_output_option_load_as_the_direct_generator(tmp_path):
    torch.manual_seed(0)
    old = tfvsdk.create("blender", "bsn", generator_config={"output": "direct"})
    path = tmp_path / "old.safetensors"
    old.save(path)
    with safetensors.safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    generator = json.loads(metadata["generator"])
    del generator["output"]
    metadata["generator"] = json.dumps(generator)
    safetensors.torch.save_file(safetensors.torch.load_file(str(path)), str(path), metadata=metadata)
    loaded = tfvsdk.create("blender", "bsn", weights=path)
    assert loaded.generator.config.output == "direct"
    with torch.no_grad():
        torch.testing.assert_close(loaded.blend(*inputs()), old.blend(*inputs()), rtol=0, atol=0)
    assert tfvsdk.create("blender", "bsn", generator_config=generator).generator.config.output == "direct"
    assert tfvsdk.create("blender", "bsn").generator.config.output == "residual"


def test_a_tensor_of_the_wrong_shape_is_a_model_file_error(tmp_path):
    blender = tfvsdk.create("blender", "bsn")
    path = tmp_path / "bad.safetensors"
    blender.save(path)
    tensors = safetensors.torch.load_file(str(path))
    tensors["generator.head.conv.weight"] = torch.zeros(5, 7, 7, 7)
    with safetensors.safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    safetensors.torch.save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(tfvsdk.ModelFileError, match=r"generator\.head\.conv\.weight \(5, 7, 7, 7\)"):
        tfvsdk.create("blender", "bsn", weights=path)


def test_loading_another_presets_weights_names_the_saved_configuration(tmp_path):
    path = tmp_path / "small.safetensors"
    tfvsdk.create("blender", "bsn", preset="small").save(path)
    with pytest.raises(tfvsdk.ModelFileError, match="saved with") as info:
        tfvsdk.create("blender", "bsn", preset="paper", weights=path)
    assert json.dumps({"base_channels": 32}).strip("{}") in str(info.value)
    with pytest.raises(tfvsdk.ModelFileError, match="unexpected: generator.blocks.0.first.norm.alpha_logit"):
        tfvsdk.create("blender", "bsn", preset="small", norm="adain").load(path)


def test_missing_and_unreadable_files_are_model_file_errors(tmp_path):
    with pytest.raises(tfvsdk.ModelFileError, match="no such"):
        tfvsdk.create("blender", "bsn", weights=tmp_path / "absent.safetensors")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(tfvsdk.ModelFileError, match="not a readable"):
        tfvsdk.create("blender", "bsn", weights=garbage)


def test_bad_inputs_are_input_errors():
    blender = tfvsdk.create("blender", "bsn")
    rendered, appearance, hint, mask = inputs()
    with pytest.raises(tfvsdk.InputError, match="hint"):
        blender.blend(rendered, appearance, hint[..., :16], mask)
    with pytest.raises(tfvsdk.InputError, match="preset"):
        tfvsdk.create("blender", "bsn", preset="large")
