"""Make the pictures of docs/training.md: training-synth.png, training-samples.png, training-heldout.png.

Usage: python docs/images/make_training_figures.py [output_dir] [--run RUN_DIR --steps 100 600]
       [--heldout-steps 500 1000 ...]

training-synth.png: six synthetic images (top) and six frames of two clips (below) from ``tfv synth``.
training-samples.png: the sample grids (X_i, X_p, X_e, R, hint M, Y^t, Y^{t−1}) that a run of
``configs/cpu-small.toml`` wrote at the given steps, one above the other (``--run``: that run's folder;
without it only training-synth.png is made).
training-heldout.png (with ``--heldout-steps``): the same held-out frames (one per held-out clip, never
trained on) edited by the run's checkpoints ``checkpoints/step-XXXXXXXX.pt`` of those steps (the weight
average when the run has ``optim.ema``): columns X (ground truth), R, hint M, then Y at step 0 (a fresh
residual G outputs the composite C) and at each step, and the classical blender's output; below, the
same as error maps 8·|Y − X|.
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


def heldout_grid(run: Path, steps: list[int], out: Path, frame: int = 6) -> None:
    """training-heldout.png of ``run`` (see the module docstring)."""
    import json

    from tfvsdk.data.samples import collate
    from tfvsdk.train import Trainer, config_from_dict, load_checkpoint
    from tfvsdk.train.evaluation import clip_specs

    config = json.loads((run / "config.json").read_text())
    config["run"].update(resume=False, out=str(Path(tempfile.mkdtemp()) / "figure"))
    trainer = Trainer(config_from_dict(config))
    specs = [clip_specs(clip, trainer.videos.num_frames(clip))[frame - 1] for clip in trainer.eval_clips]
    batch = collate([trainer.dataset[s] for s in specs])
    scene = trainer.render(batch, temporal=False)
    x = batch.identity.cur
    outputs = [scene.mask * scene.rendered + (1 - scene.mask) * scene.hint]  # step 0: Y = C
    for step in steps:
        trainer.load_state_dict(load_checkpoint(run / "checkpoints" / f"step-{step:08d}.pt"))
        with torch.no_grad():
            outputs.append(trainer.inference_blender.blend(scene.rendered, scene.appearance, scene.hint, scene.mask))
    import tfvsdk

    with torch.no_grad():
        outputs.append(tfvsdk.create("blender", "classical").blend(scene.rendered, scene.appearance, scene.hint, scene.mask))
    errors = [((y - x).abs() * 8).clamp(0, 1) for y in outputs]
    blank = torch.ones_like(x)
    columns = [torch.cat([a, b]) for a, b in zip([x, scene.rendered, scene.hint, *outputs], [blank, blank, blank, *errors])]
    save_grid(out / "training-heldout.png", columns, rows=2 * len(specs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path(__file__).parent)
    parser.add_argument("--run", type=Path, help="folder of a configs/cpu-small.toml run")
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 600])
    parser.add_argument("--heldout-steps", type=int, nargs="+", help="steps of the run's checkpoints for training-heldout.png")
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
        if args.heldout_steps:
            heldout_grid(args.run, args.heldout_steps, args.out)


if __name__ == "__main__":
    main()
