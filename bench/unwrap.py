"""Benchmark: ``tfvsdk.texture.unwrap_texture`` now vs a baseline commit, ms per frame, in one process.

The baseline's ``tfvsdk`` package is extracted with ``git archive`` into a temporary folder and imported as
``tfvsdk_baseline``. Inputs: the built-in model with random identities and expressions, yaw −40° … 40° across
the batch, random 256² images (the time does not depend on their content), a 256² texture with the model's
symmetry and ``margin=2``, as the editor calls it. Each repeat times both versions back to back (alternating
which goes first) and checks that their textures and masks are equal; the table gives medians over repeats
of the time per frame and of the old / new ratio (the machine's speed drifts, the ratio of neighbouring
calls much less).

Usage: ``python bench/unwrap.py [--baseline REV] [--repeats 7] [--threads 1 2] [--batch 8 16]``
"""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path

import torch

import tfvsdk
from baseline import extract_baseline, old_new_arguments, time_interleaved, turning_faces
from tfvsdk.texture import unwrap_texture

BASELINE = "3f7ee9cf7c03d1a1db698df60ed2a4cff973136b"
"""The last commit that tested every texel of every image."""


def inputs(model, batch: int, size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, screen vertices): random images (the time does not depend on them) and turning faces."""
    screen = turning_faces(model, batch, size)
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(batch)), screen


def compare(old, model, batch: int, repeats: int) -> tuple[float, float, float]:
    """Medians of old ms / frame, new ms / frame and old / new."""
    image, screen = inputs(model, batch)
    args = (image, screen, model.triangles, model.uv, 256, model.symmetry)
    with torch.no_grad():
        return time_interleaved(
            {"old": lambda: old.unwrap_texture(*args, margin=2), "new": lambda: unwrap_texture(*args, margin=2)},
            repeats,
            per=batch,
        )


def main() -> None:
    args = old_new_arguments(__doc__, BASELINE, [8, 16])
    model = tfvsdk.morphable.load_builtin()
    with tempfile.TemporaryDirectory() as folder:
        extract_baseline(args.baseline, Path(folder))
        old = importlib.import_module("tfvsdk_baseline.texture")
        print(f"unwrap_texture, 256² frames and texture, ms per frame, median of {args.repeats}, "
              f"baseline {args.baseline[:7]}")
        print(f"{'threads':>7} {'batch':>5} {'old':>7} {'new':>7} {'old/new':>7}")
        for threads in args.threads:
            torch.set_num_threads(threads)
            for batch in args.batch:
                before, after, ratio = compare(old, model, batch, args.repeats)
                print(f"{threads:>7} {batch:>5} {before:>7.1f} {after:>7.1f} {ratio:>6.2f}×", flush=True)


if __name__ == "__main__":
    main()
