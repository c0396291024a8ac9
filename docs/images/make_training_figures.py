"""Make the pictures of docs/training.md: training-synth.png and training-samples.png.

Usage: python docs/images/make_training_figures.py [output_dir]

training-synth.png: six synthetic images (top) and six frames of two clips (below) from ``tfv synth``.
training-samples.png: the sample grid a short training run writes (X_i, X_p, X_e, R, hint M, Y^t, Y^{t−1}).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

from tfvsdk.data import ImageFolder, VideoFolder
from tfvsdk.data.synth import SynthConfig, synthesize
from tfvsdk.train import Trainer, config_from_dict
from tfvsdk.train.logs import save_grid


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        synthesize(root, SynthConfig(images=64, videos=8, frames=12, size=64, seed=1))
        images, videos = ImageFolder(root), VideoFolder(root)
        stills = torch.stack([images.image(i) for i in range(6)])
        clips = [torch.stack([videos.frame(c, f) for f in range(0, 12, 2)]) for c in range(2)]
        save_grid(out / "training-synth.png", [torch.stack([stills[i], clips[0][i], clips[1][i]]) for i in range(6)], rows=3)
        config = config_from_dict(
            {
                "data": {"root": str(root), "batch_size": 4},
                "components": {"blender_config": {"preset": "small"}},
                "loss": {"adversarial": 0.1},
                "run": {"out": str(Path(tmp) / "run"), "max_steps": 400, "every": 400, "seed": 0},
            }
        )
        trainer = Trainer(config)
        trainer.fit()
        trainer.save_samples(out / "training-samples.png")


if __name__ == "__main__":
    main()
