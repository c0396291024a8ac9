"""Shared by the benches that time the SDK against an earlier commit of itself in one process."""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
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


def old_new_arguments(doc: str, baseline: str, batches: list[int]) -> argparse.Namespace:
    """The command line shared by these benches: ``--baseline REV --repeats N --threads T… --batch B…``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--baseline", default=baseline, help="commit to compare with")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, nargs="+", default=batches)
    return parser.parse_args()


def time_interleaved(
    versions: dict[str, Callable[[], tuple[torch.Tensor, ...]]], repeats: int, per: int = 1
) -> tuple[float, float, float]:
    """Run ``versions["old"]`` and ``versions["new"]`` back to back ``repeats`` times (alternating which goes
    first, after one warm-up call each) and check that their outputs are equal.

    Returns:
        medians of old ms, new ms (each divided by ``per``) and of the old / new ratio of each repeat.

    Raises:
        AssertionError: an output differs between the two.
    """
    times: dict[str, list[float]] = {"old": [], "new": []}
    for run in versions.values():
        run()
    for repeat in range(repeats):
        results = {}
        for name in sorted(versions, reverse=repeat % 2 == 1):
            started = time.perf_counter()
            results[name] = versions[name]()
            times[name].append((time.perf_counter() - started) / per * 1e3)
        if not all(torch.equal(a, b) for a, b in zip(results["old"], results["new"], strict=True)):
            raise AssertionError("an output differs from the baseline's")
    ratios = [a / b for a, b in zip(times["old"], times["new"])]
    return statistics.median(times["old"]), statistics.median(times["new"]), statistics.median(ratios)
