"""Training the blender (paper §3.1, §3.4, §4): configuration, checkpoints and the trainer."""

from .checkpoint import CheckpointDir, load_checkpoint, save_checkpoint
from .components import Components, build_components
from .config import ComponentsConfig, DataConfig, LossConfig, OptimConfig, RunConfig, TrainConfig, config_from_dict, load_config
from .distributed import DistContext
from .trainer import StepOutputs, Trainer

__all__ = [
    "CheckpointDir",
    "Components",
    "ComponentsConfig",
    "DataConfig",
    "DistContext",
    "LossConfig",
    "OptimConfig",
    "RunConfig",
    "StepOutputs",
    "TrainConfig",
    "Trainer",
    "build_components",
    "config_from_dict",
    "load_checkpoint",
    "load_config",
    "save_checkpoint",
]
