"""FID and KID over folders of frames: the paper's FID is a statistic of *all* output frames Y^t against all
identity frames X_i^t of a test set (§4, ref. [31]), not a per-clip value.

A folder holds images and/or videos, in subfolders too; every image is one sample and every frame of every
video is one sample (files are taken in sorted path order; other files are ignored). Features come from any
network mapping (B, 3, H, W) images in [0, 1] to (B, D) features — for FID proper, FID's Inception-v3
(:func:`~tfvsdk.metrics.inception.load_inception`, the user's weights file).

Example:
    >>> from tfvsdk.metrics import folder_distances, load_inception
    >>> network = load_inception("pt_inception-2015-12-05-6726825d.pth")  # doctest: +SKIP
    >>> folder_distances("identities/", "outputs/", network)["fid"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import io
from ..errors import InputError
from .distribution import feature_statistics, frechet_distance, kernel_distance

__all__ = ["folder_distances", "folder_features", "frame_files"]

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"}
"""Video files read from a folder (every frame is a sample)."""


def frame_files(folder: str | os.PathLike) -> list[Path]:
    """The images and videos under ``folder`` (subfolders included), in sorted path order.

    Raises:
        InputError: ``folder`` is not a folder, or holds no image or video.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder")
    suffixes = io.IMAGE_SUFFIXES | VIDEO_SUFFIXES
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith("."))
    if not files:
        raise InputError(f"{root}: no images ({', '.join(sorted(io.IMAGE_SUFFIXES))}) or videos "
                         f"({', '.join(sorted(VIDEO_SUFFIXES))}) in the folder")
    return files


def _frames(files: list[Path]) -> Iterator[np.ndarray]:
    for path in files:
        yield from io.iter_frames(path)


def folder_features(
    folder: str | os.PathLike,
    network: Callable[[torch.Tensor], torch.Tensor],
    *,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> torch.Tensor:
    """(N, D) features of every frame under ``folder`` (see the module docstring), on the CPU.

    Args:
        folder: images and/or videos.
        network: (B, 3, H, W) images in [0, 1] → (B, D) features (e.g. :class:`~tfvsdk.metrics.InceptionFeatures`).
        batch_size: frames per call of ``network`` (frames of another size start a new batch).
        device: where ``network`` runs.
        progress: show a progress bar of the frames (stderr).

    Raises:
        InputError: no images or videos in ``folder``, or an unreadable file (named).
    """
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise InputError(f"batch_size: expected >= 1, got {batch_size}")
    files = frame_files(folder)
    out: list[torch.Tensor] = []
    batch: list[np.ndarray] = []

    def flush() -> None:
        with torch.no_grad():
            out.append(network(io.to_tensor(batch, device)).detach().float().cpu())
        batch.clear()

    with tqdm(unit="frame", desc=f"features of {Path(folder).name}", leave=False, disable=not progress) as bar:
        for frame in _frames(files):
            if batch and frame.shape != batch[0].shape:
                flush()
            batch.append(frame)
            if len(batch) == batch_size:
                flush()
            bar.update(1)
        if batch:
            flush()
    return torch.cat(out)


def folder_distances(
    first: str | os.PathLike,
    second: str | os.PathLike,
    network: Callable[[torch.Tensor], torch.Tensor],
    *,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """FID and KID between the frames under two folders (e.g. the identity sources and the outputs).

    Args:
        first: a folder of images and/or videos.
        second: another.
        network: the feature extractor (FID proper: :func:`~tfvsdk.metrics.inception.load_inception`).
        batch_size: frames per call of ``network``.
        device: where ``network`` runs.
        kid_subsets: random subsets of KID (:func:`~tfvsdk.metrics.distribution.kernel_distance`).
        kid_subset_size: features per KID subset.
        seed: seed of the KID subsets.
        progress: show progress bars.

    Returns:
        ``{"fid", "kid", "kid_std", "samples": [N₁, N₂]}``.

    Raises:
        InputError: a folder without frames, or fewer than 2 frames in one of them.
    """
    features = [folder_features(f, network, batch_size=batch_size, device=device, progress=progress) for f in (first, second)]
    for folder, f in zip((first, second), features):
        if len(f) < 2:
            raise InputError(f"{folder}: FID and KID need at least 2 frames, found {len(f)}")
    fid = frechet_distance(*feature_statistics(features[0]), *feature_statistics(features[1]))
    kid, kid_std = kernel_distance(features[0], features[1], subsets=kid_subsets, subset_size=kid_subset_size, seed=seed)
    return {"fid": fid, "kid": kid, "kid_std": kid_std, "samples": [len(features[0]), len(features[1])]}
