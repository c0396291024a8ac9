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
same as error maps 8·|Y − X|, and under the last step's the change of the error from step 0 (16× the drop
of the per-pixel error in green, its rise in red). Every tile is cropped to the face (one square size).
It also prints the error of C, of the last step and of the classical blender on all held-out frames, split
into the ring at the face mask's edge and the face inside it.
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
        outputs.append(tfvsdk.create("blender", "classical", tone="target").blend(scene.rendered, scene.appearance, scene.hint, scene.mask))
    errors = [((y - x).abs() * 8).clamp(0, 1) for y in outputs]
    blank = torch.ones_like(x)
    change = error_change(outputs[0], outputs[-2], x)
    columns = [
        torch.cat([a, b, c])
        for a, b, c in zip([x, scene.rendered, scene.hint, *outputs], [blank, blank, blank, *errors],
                           [blank, blank, blank, *[blank] * len(steps), change, blank])
    ]
    save_grid(out / "training-heldout.png", [face_crops(c, scene.mask.repeat(3, 1, 1, 1)) for c in columns], rows=3 * len(specs))
    ring_errors(trainer, run, steps[-1])


def ring_errors(trainer, run: Path, step: int, ring: int = 2) -> None:
    """Print the mean error (0–255) within ``ring`` px of the face mask's edge and inside it, on every
    held-out frame t ≥ 1, of C, of the checkpoint of ``step`` and of the classical blender, and the share of
    face pixels whose error fell / rose by more than 2 levels from C's."""
    import tfvsdk
    from tfvsdk.data.samples import collate
    from tfvsdk.train import load_checkpoint
    from tfvsdk.train.evaluation import clip_specs

    specs = [s for clip in trainer.eval_clips for s in clip_specs(clip, trainer.videos.num_frames(clip))]
    batch = collate([trainer.dataset[s] for s in specs])
    scene = trainer.render(batch, temporal=False)
    face = (scene.mask > 0.5).float()
    inner = 1 - torch.nn.functional.max_pool2d(1 - face, 2 * ring + 1, 1, ring)
    edge = face - inner
    trainer.load_state_dict(load_checkpoint(run / "checkpoints" / f"step-{step:08d}.pt"))
    with torch.no_grad():
        outputs = {
            "C": scene.mask * scene.rendered + (1 - scene.mask) * scene.hint,
            f"step {step}": trainer.inference_blender.blend(scene.rendered, scene.appearance, scene.hint, scene.mask),
            "classical": tfvsdk.create("blender", "classical", tone="target").blend(scene.rendered, scene.appearance, scene.hint, scene.mask),
        }
    errors = {k: (y - batch.identity.cur).abs().mean(1, keepdim=True) * 255 for k, y in outputs.items()}
    print(f"{len(specs)} held-out frames; the {ring}-px ring holds {float(edge.sum() / face.sum()):.0%} of the face's pixels")
    for name, e in errors.items():
        fell, rose = ((errors["C"] - e > 2).float() * face).sum() / face.sum(), ((e - errors["C"] > 2).float() * face).sum() / face.sum()
        print(f"{name:>10}: face {float((e * face).sum() / face.sum()):.2f}  ring {float((e * edge).sum() / edge.sum()):.2f}  "
              f"inside {float((e * inner).sum() / inner.sum()):.2f}  better / worse than C: {float(fell):.0%} / {float(rose):.0%}")


def error_change(before: torch.Tensor, after: torch.Tensor, truth: torch.Tensor, gain: float = 16.0) -> torch.Tensor:
    """Where ``after`` is closer to ``truth`` than ``before``, green, where farther, red: the change of the
    per-pixel error (mean over channels of |Y − X|, 0–1) times ``gain``; (B, 3, H, W) → (B, 3, H, W)."""
    delta = ((before - truth).abs().mean(1, keepdim=True) - (after - truth).abs().mean(1, keepdim=True)) * gain
    return torch.cat([(-delta).clamp(0, 1), delta.clamp(0, 1), torch.zeros_like(delta)], 1)


def face_crops(images: torch.Tensor, masks: torch.Tensor, margin: int = 3) -> torch.Tensor:
    """Each image cropped to a square of one side for all (the largest face mask's box plus ``margin`` px),
    centred on its own mask; (B, C, H, W), masks (B, 1, H, W) → (B, C, S, S)."""
    boxes = []
    for m in masks[:, 0] > 0.5:
        rows, cols = torch.nonzero(m.any(1)).flatten(), torch.nonzero(m.any(0)).flatten()
        boxes.append((int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])))
    h, w = images.shape[-2:]
    side = min(h, w, max(max(r1 - r0, c1 - c0) + 1 for r0, r1, c0, c1 in boxes) + 2 * margin)
    crops = []
    for image, (r0, r1, c0, c1) in zip(images, boxes):
        top = min(max((r0 + r1 + 1 - side) // 2, 0), h - side)
        left = min(max((c0 + c1 + 1 - side) // 2, 0), w - side)
        crops.append(image[:, top : top + side, left : left + side])
    return torch.stack(crops)


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
