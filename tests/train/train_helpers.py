"""Helpers of the training tests: the image size, the model and a config that trains quickly."""

from __future__ import annotations

import os
from pathlib import Path

import tfvsdk
from tfvsdk.train.config import TrainConfig, config_from_dict

SIZE = 32
SFM_PATH = Path(os.environ.get("TFVSDK_SFM", Path(__file__).resolve().parents[3] / "shared" / "models" / "sfm_3448" / "sfm_3448.npz"))


def _model() -> tuple[str, dict] | None:
    """The built-in model; the SFM test model while the built-in one is not available; else None."""
    try:
        tfvsdk.create("model", "default")
        return ("default", {})
    except tfvsdk.TfvError:
        return ("sfm", {"path": str(SFM_PATH)}) if SFM_PATH.exists() else None


MODEL = _model()


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
