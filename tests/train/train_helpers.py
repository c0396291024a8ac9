"""Helpers of the training tests: the image size, the model and a config that trains quickly."""

from __future__ import annotations

from pathlib import Path

from tfvsdk.train.config import TrainConfig, config_from_dict

SIZE = 32
MODEL = ("default", {})
"""The model the training tests train with: the built-in one (name, loader config)."""


def make_config(root: Path, out: Path, **sections: dict) -> TrainConfig:
    """A config that trains the small BSN preset on ``root`` with batches of 2, writing to ``out``."""
    base = {
        "data": {"root": str(root), "batch_size": 2},
        "components": {"blender_config": {"preset": "small"}, "model": MODEL[0], "model_config": MODEL[1]},
        "run": {"out": str(out), "max_steps": 4, "every": 2, "log_every": 1, "seed": 3},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return config_from_dict(base)
