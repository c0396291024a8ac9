"""Train the BSN blender on synthetic faces from Python — the library way to drive training.

    python examples/train_synthetic.py --out runs/example --steps 300
    torchrun --nproc_per_node=2 examples/train_synthetic.py --out runs/example --steps 300   # DDP

The script writes a small synthetic dataset (the built-in face model; nothing to download), trains the
small BSN preset with the paper's losses and DTSS sampling (σ = 0.5), and exports the generator and
embedder weights for editing: ``tfv swap ... --blender bsn --blender-weights runs/example/bsn.safetensors``.
Run it again to continue from the last checkpoint.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

from tfvsdk.data.synth import SynthConfig, synthesize
from tfvsdk.train import ComponentsConfig, DataConfig, RunConfig, Trainer, TrainConfig


def dataset(root: Path, size: int) -> Path:
    """Synthesize the dataset once (rank 0; other torchrun processes wait for its manifest)."""
    if os.environ.get("RANK", "0") == "0":
        if not (root / "manifest.json").exists():
            synthesize(root, SynthConfig(images=200, videos=20, frames=24, size=size), progress=True)
    else:
        while not (root / "manifest.json").exists():
            time.sleep(1)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/example", help="output folder")
    parser.add_argument("--steps", type=int, default=300, help="optimisation steps")
    parser.add_argument("--size", type=int, default=64, help="image side")
    parser.add_argument("--sigma", type=float, default=0.5, help="DTSS image-sample probability")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    out = Path(args.out)
    config = TrainConfig(
        data=DataConfig(root=str(dataset(out / "data", args.size)), sigma=args.sigma, batch_size=4),
        components=ComponentsConfig(blender="bsn", blender_config={"preset": "small"}),
        run=RunConfig(out=str(out), max_steps=args.steps, every=max(1, args.steps // 5)),
    )
    trainer = Trainer(config)
    try:
        metrics = trainer.fit()
    finally:
        trainer.close()
    if trainer.context.is_main:
        weights = trainer.export_weights(out / "bsn.safetensors")
        print(f"step {trainer.step}: L_rec {metrics['loss/reconstruction']:.4f}, L_tmp {metrics['loss/temporal']:.2e}; weights {weights}")


if __name__ == "__main__":
    main()
