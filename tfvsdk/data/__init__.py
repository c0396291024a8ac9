"""Training data: the on-disk dataset layout, its readers, the DTSS sampler (§3.1), synthesis and preparation.

See :mod:`tfvsdk.data.layout` for the layout and docs/training.md for the guide.
"""

from .folders import ImageFolder, VideoFolder
from .layout import Manifest, load_fits, read_image, read_manifest, save_fits, write_image, write_manifest
from .sampler import DTSSSampler
from .samples import ROLES, FrameRef, LoadedSample, RoleFrames, SampleDataset, SampleSpec, TrainingBatch, collate

__all__ = [
    "ROLES",
    "DTSSSampler",
    "FrameRef",
    "ImageFolder",
    "LoadedSample",
    "Manifest",
    "RoleFrames",
    "SampleDataset",
    "SampleSpec",
    "TrainingBatch",
    "VideoFolder",
    "collate",
    "load_fits",
    "read_image",
    "read_manifest",
    "save_fits",
    "write_image",
    "write_manifest",
]
