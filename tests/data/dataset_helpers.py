"""Build a tiny dataset in the on-disk layout, with random images and random fits (no renderer needed)."""

from __future__ import annotations

from pathlib import Path

import torch

from tfvsdk.camera import Camera
from tfvsdk.data import layout
from tfvsdk.records import FaceFit


def random_fits(count: int, size: int, n_id: int = 4, n_exp: int = 3, generator: torch.Generator | None = None) -> FaceFit:
    angles = (torch.rand(count, 3, generator=generator) - 0.5) * 0.6
    return FaceFit(
        alpha_id=torch.randn(count, n_id, generator=generator),
        alpha_exp=torch.randn(count, n_exp, generator=generator),
        camera=Camera.from_euler(
            angles[:, 0], angles[:, 1], angles[:, 2], scale=torch.full((count,), 0.1), translation=torch.full((count, 2), size / 2)
        ),
        image_size=(size, size),
        landmarks=torch.rand(count, 68, 2, generator=generator) * size,
    )


def make_dataset(root: Path, *, identities: int = 6, per_identity: int = 2, clips: int = 3, frames: int = 5, size: int = 8) -> Path:
    g = torch.Generator().manual_seed(0)
    images = []
    for i in range(identities):
        for j in range(per_identity):
            entry = layout.ImageEntry(f"id{i:03d}", f"{j:03d}")
            layout.write_image(layout.image_path(root, entry.identity, entry.name), torch.rand(3, size, size, generator=g))
            layout.save_fits(layout.image_fit_path(root, entry.identity, entry.name), random_fits(1, size, generator=g))
            images.append(entry)
    videos = []
    for c in range(clips):
        names = layout.frame_names(frames)
        for name in names:
            layout.write_image(layout.frame_path(root, f"clip{c:03d}", name), torch.rand(3, size, size, generator=g))
        layout.save_fits(layout.clip_fits_path(root, f"clip{c:03d}"), random_fits(frames, size, generator=g))
        videos.append(layout.ClipEntry(f"clip{c:03d}", f"speaker{c:03d}", names))
    manifest = layout.Manifest((size, size), {"name": "test", "n_id": 4, "n_exp": 3}, images, videos, source="test")
    layout.write_manifest(root, manifest)
    return root
