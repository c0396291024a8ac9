"""Training configuration: TOML round trip, defaults of the paper, clear errors."""

from __future__ import annotations

import pytest

from tfvsdk.errors import InputError
from tfvsdk.train.config import TrainConfig, config_from_dict, load_config


def test_defaults_are_the_papers_settings():
    config = TrainConfig()
    assert config.data.sigma == 0.5
    assert (config.optim.lr_g, config.optim.lr_d) == (1e-4, 4e-4)
    w = config.loss.weights()
    assert (w.adversarial, w.appearance, w.reconstruction, w.temporal) == (10, 1, 10, 5)


def test_toml_file_sets_fields(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text(
        """
[data]
root = "data/x"
sigma = 1

[components]
blender_config = { preset = "small", norm = "adain" }
role_map = { target = "pose" }

[optim]
betas = [0.0, 0.9]

[loss]
use_temporal = false

[run]
max_steps = 20
every = 5
"""
    )
    config = load_config(path)
    assert config.data.root == "data/x" and config.data.sigma == 1.0 and isinstance(config.data.sigma, float)
    assert config.components.blender_config == {"preset": "small", "norm": "adain"}
    assert config.optim.betas == (0.0, 0.9)
    assert config.loss.weights().temporal == 0.0
    assert (config.run.max_steps, config.run.every) == (20, 5)
    assert config_from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"data": {"sigmaa": 0.5}}, "unknown key in \\[data\\] 'sigmaa'; did you mean 'sigma'"),
        ({"dataa": {}}, "unknown table '\\[dataa\\]'; did you mean '\\[data\\]'"),
        ({"data": {"sigma": 1.5}}, "sigma: expected a value in \\[0, 1\\]"),
        ({"data": {"batch_size": "4"}}, "batch_size = '4': expected type int"),
        ({"optim": {"betas": [0.5]}}, "betas: expected two values"),
        ({"run": {"device": "tpu"}}, "device"),
        ({"components": {"blender_config": 3}}, "blender_config = 3: expected type dict"),
        ({"loss": {"temporal": -1}}, "temporal: expected a value ≥ 0"),
    ],
)
def test_bad_config_is_a_clear_error(data, message):
    with pytest.raises(InputError, match=message):
        config_from_dict(data, "train.toml")


def test_toml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[data\nroot = 1")
    with pytest.raises(InputError, match="bad.toml: not valid TOML"):
        load_config(path)
