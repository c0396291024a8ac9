"""Make the pictures of docs/training.md: training-synth.png and training-samples.png.

Usage: python docs/images/make_training_figures.py [output_dir] [--run RUN_DIR --steps 100 600]

training-synth.png: six synthetic images (top) and six frames of two clips (below) from ``tfv synth``.
training-samples.png: the sample grids (X_i, X_p, X_e, R, hint M, Y^t, Y^{t−1}) that a run of
``configs/cpu-small.toml`` wrote at the given steps, one above the other (``--run``: that run's folder;
without it only training-synth.png is made).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

from tfvsdk.data import ImageFolder, VideoFolder
from tfvsdk.data.synth import SynthConfig, synthesize
from tfvsdk.train.logs import save_grid


def stacked_grids(run: Path, steps: list[int], gap: int = 8) -> np.ndarray:
    """The sample grids of ``steps`` in ``run/samples``, one above the other with white gaps."""
    grids = [iio.imread(run / "samples" / f"step-{step:08d}.png")[..., :3] for step in steps]
    width = max(g.shape[1] for g in grids)
    rows = []
    for grid in grids:
        padded = np.full((grid.shape[0], width, 3), 255, np.uint8)
        padded[:, : grid.shape[1]] = grid
        rows += [padded, np.full((gap, width, 3), 255, np.uint8)]
    return np.concatenate(rows[:-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path(__file__).parent)
    parser.add_argument("--run", type=Path, help="folder of a configs/cpu-small.toml run")
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 600])
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        synthesize(root, SynthConfig(images=64, videos=8, frames=12, size=64, seed=1))
        images, videos = ImageFolder(root), VideoFolder(root)
        stills = torch.stack([images.image(i) for i in range(6)])
        clips = [torch.stack([videos.frame(c, f) for f in range(0, 12, 2)]) for c in range(2)]
        save_grid(args.out / "training-synth.png", [torch.stack([stills[i], clips[0][i], clips[1][i]]) for i in range(6)], rows=3)
    if args.run:
        iio.imwrite(args.out / "training-samples.png", stacked_grids(args.run, args.steps))


if __name__ == "__main__":
    main()
