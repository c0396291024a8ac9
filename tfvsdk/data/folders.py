"""Readers of a prepared dataset's image part and video part (layout: :mod:`tfvsdk.data.layout`)."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import torch

from ..errors import InputError
from ..records import FaceFit
from .layout import Manifest, clip_fits_path, frame_path, image_fit_path, image_path, load_fits, read_image, read_manifest


def _checked(image: torch.Tensor, size: tuple[int, int], path: Path) -> torch.Tensor:
    if tuple(image.shape[-2:]) != size:
        raise InputError(f"{path}: expected a {size[0]}x{size[1]} image (manifest image_size), got {tuple(image.shape[-2:])}")
    return image


class ImageFolder:
    """The image part of a dataset: ``ROOT/images/<identity>/<name>.png`` with cached fits.

    Args:
        root: the dataset folder (with ``manifest.json``).
        manifest: the manifest, if already read.

    Example:
        >>> images = ImageFolder("data/synth")           # doctest: +SKIP
        >>> x, fit = images.image(0), images.fit(0)      # (3, H, W) in [0, 1]; FaceFit of batch 1
    """

    def __init__(self, root: str | os.PathLike, manifest: Manifest | None = None) -> None:
        self.root = Path(root)
        self.manifest = manifest if manifest is not None else read_manifest(self.root)
        self.entries = self.manifest.images
        groups: dict[str, list[int]] = defaultdict(list)
        for index, entry in enumerate(self.entries):
            groups[entry.identity].append(index)
        self.identities: tuple[str, ...] = tuple(sorted(groups))
        """Sorted identity names."""
        self.by_identity: dict[str, tuple[int, ...]] = {k: tuple(v) for k, v in groups.items()}
        """Indices of the images of each identity."""
        self._fits: dict[int, FaceFit] = {}

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of every image."""
        return self.manifest.image_size

    def __len__(self) -> int:
        return len(self.entries)

    def image(self, index: int) -> torch.Tensor:
        """The (3, H, W) float32 image ``index`` in [0, 1]."""
        entry = self.entries[index]
        path = image_path(self.root, entry.identity, entry.name)
        return _checked(read_image(path), self.image_size, path)

    def fit(self, index: int) -> FaceFit:
        """The cached fit of image ``index`` (batch 1), read once and kept in memory."""
        if index not in self._fits:
            entry = self.entries[index]
            path = image_fit_path(self.root, entry.identity, entry.name)
            fit = load_fits(path)
            if fit.batch_size != 1 or fit.image_size != self.image_size:
                raise InputError(f"{path}: expected one fit of a {self.image_size} image, got batch {fit.batch_size} of {fit.image_size}")
            self._fits[index] = fit
        return self._fits[index]


class VideoFolder:
    """The video part of a dataset: ``ROOT/videos/<clip>/<frame>.png`` with one fit file per clip.

    Args:
        root: the dataset folder (with ``manifest.json``).
        manifest: the manifest, if already read.
    """

    def __init__(self, root: str | os.PathLike, manifest: Manifest | None = None) -> None:
        self.root = Path(root)
        self.manifest = manifest if manifest is not None else read_manifest(self.root)
        self.clips = self.manifest.videos
        self._fits: dict[int, FaceFit] = {}

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of every frame."""
        return self.manifest.image_size

    def __len__(self) -> int:
        return len(self.clips)

    def num_frames(self, clip: int) -> int:
        """Number of frames of clip ``clip``."""
        return len(self.clips[clip].frames)

    def frame(self, clip: int, frame: int) -> torch.Tensor:
        """Frame ``frame`` of clip ``clip``: (3, H, W) float32 in [0, 1]."""
        entry = self.clips[clip]
        path = frame_path(self.root, entry.clip, entry.frames[frame])
        return _checked(read_image(path), self.image_size, path)

    def fits(self, clip: int) -> FaceFit:
        """The fits of every frame of clip ``clip`` (batch = frames), read once and kept in memory."""
        if clip not in self._fits:
            entry = self.clips[clip]
            path = clip_fits_path(self.root, entry.clip)
            fits = load_fits(path)
            if fits.batch_size != len(entry.frames) or fits.image_size != self.image_size:
                raise InputError(
                    f"{path}: expected {len(entry.frames)} fits of {self.image_size} frames, "
                    f"got {fits.batch_size} of {fits.image_size}"
                )
            self._fits[clip] = fits
        return self._fits[clip]

    def fit(self, clip: int, frame: int) -> FaceFit:
        """The fit of one frame (batch 1)."""
        return self.fits(clip)[frame]
