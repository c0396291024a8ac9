"""Shared by the benches that time the SDK against an earlier commit of itself in one process."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import torch

import tfvsdk

REPO = Path(__file__).resolve().parents[1]


def extract_baseline(rev: str, folder: Path, *extra: str) -> Path:
    """Extract ``tfvsdk`` (and the repository paths ``extra``) as of commit ``rev`` into ``folder`` with
    ``git archive``, the package renamed ``tfvsdk_baseline`` and importable; returns ``folder``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "tfvsdk", *extra], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    (folder / "tfvsdk").rename(folder / "tfvsdk_baseline")
    sys.path.insert(0, str(folder))
    return folder


def turning_faces(model: tfvsdk.MorphableModel, batch: int, size: int = 256) -> torch.Tensor:
    """(B, N, 3) screen-space vertices of ``model`` with random identities and expressions (seeded by
    ``batch``), yaw −40° … 40° across the batch, the face 70 % of a ``size``² frame."""
    g = torch.Generator().manual_seed(batch)
    with torch.no_grad():
        alpha_id = torch.randn(batch, model.n_id, generator=g) * 0.5
        shape = model.shape(alpha_id, torch.randn(batch, model.n_exp, generator=g) * 0.5)
        extent = float((shape[0, :, :2].amax(0) - shape[0, :, :2].amin(0)).max())
        camera = tfvsdk.Camera.from_euler(
            torch.linspace(-40, 40, batch) * math.pi / 180,
            (torch.rand(batch, generator=g) - 0.5) * 0.3,
            (torch.rand(batch, generator=g) - 0.5) * 0.2,
            scale=torch.full((batch,), 0.7 * size / extent),
            translation=torch.full((batch, 2), size / 2),
        )
        return camera.project(shape)
