"""Training the blender (paper §3.1, §3.4, §4): configuration, checkpoints and the trainer."""

from .checkpoint import CheckpointDir, load_checkpoint, save_checkpoint
from .config import ComponentsConfig, DataConfig, LossConfig, OptimConfig, RunConfig, TrainConfig, config_from_dict, load_config

__all__ = [
    "CheckpointDir",
    "ComponentsConfig",
    "DataConfig",
    "LossConfig",
    "OptimConfig",
    "RunConfig",
    "TrainConfig",
    "config_from_dict",
    "load_checkpoint",
    "load_config",
    "save_checkpoint",
]
