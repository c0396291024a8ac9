"""Training cost on this CPU: seconds per step, split into rendering + 3D flow and the networks.

Usage: python bench/train.py [--sizes 128 256] [--presets small paper] [--batch 2] [--steps 3] [--threads N]
       python bench/train.py --recipe configs/cpu-small.toml [--recipe-size 32] [--steps 20]

For each image size a small synthetic dataset is written to a temporary folder; for each BSN preset a
:class:`~tfvsdk.train.Trainer` runs one warm-up step and then ``--steps`` timed steps (σ = 0.5, with
L_tmp, so every step renders and blends both t and t−1). Per step the trainer measures

* render+flow — composing, texture unwrapping, rendering R^t and R^{t−1}, hints and ``flow3d``;
* networks — G/E forward, the losses, the G/E backward and Adam step, the D forward/backward and step;
* data — loading the batch (PNG decoding; cached fits).

The table gives medians over the timed steps; the machine is shared with other jobs, so take ratios from
one run. ``share`` is render+flow / total.

``--recipe``: one trainer with a recipe's settings (a TOML such as ``configs/cpu-small.toml``, on a small
synthetic dataset of ``--recipe-size``) runs blocks of ``--steps`` steps at 1 and at 2 threads, interleaved (1, 2, 1, 2)
so that a change in the machine's load hits both; printed per block: the median seconds per step and the
minutes the recipe's ``run.max_steps`` would take at that rate (training steps only: no evaluation,
checkpoints or data synthesis).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tomllib
from pathlib import Path

import torch

from tfvsdk.data.synth import SynthConfig, synthesize
from tfvsdk.train import Trainer, config_from_dict


def measure(root: Path, out: Path, preset: str, batch: int, steps: int) -> dict[str, float]:
    config = config_from_dict(
        {
            "data": {"root": str(root), "batch_size": batch},
            "components": {"blender_config": {"preset": preset}},
            "run": {"out": str(out), "max_steps": steps + 1, "every": 10_000, "resume": False},
        }
    )
    trainer = Trainer(config)
    rows = []
    loader = iter(trainer._loader())
    for _ in range(steps + 1):
        start = time.perf_counter()
        metrics = trainer.train_step(next(loader))
        metrics["time/total"] = time.perf_counter() - start
        rows.append(metrics)
    rows = rows[1:]
    return {key: statistics.median(r[key] for r in rows) for key in ("time/render_flow", "time/networks", "time/total")}


def recipe_speed(recipe: Path, steps: int, size: int) -> None:
    """Seconds per step of ``recipe`` at 1 and 2 threads, interleaved (see the module docstring)."""
    settings = tomllib.loads(recipe.read_text())
    max_steps = settings.pop("run", {}).get("max_steps", 0)
    with tempfile.TemporaryDirectory() as tmp:
        synthesize(Path(tmp) / "data", SynthConfig(images=16, videos=12, frames=12, size=size))
        settings["data"] = {**settings.get("data", {}), "root": str(Path(tmp) / "data"), "eval_clips": 0}
        settings["run"] = {"out": str(Path(tmp) / "run"), "max_steps": 10**6, "every": 10**6, "resume": False}
        trainer = Trainer(config_from_dict(settings, str(recipe)))
        loader = iter(trainer._loader())
        trainer.train_step(next(loader))
        print(f"{recipe}: median seconds per step over blocks of {steps} steps; minutes for its {max_steps} steps")
        print(f"{'block':>5} {'threads':>7} {'s/step':>7} {'minutes':>8}")
        for block, threads in enumerate((1, 2, 1, 2)):
            torch.set_num_threads(threads)
            times = []
            for _ in range(steps):
                start = time.perf_counter()
                trainer.train_step(next(loader))
                times.append(time.perf_counter() - start)
            per_step = statistics.median(times)
            print(f"{block:>5} {threads:>7} {per_step:>7.3f} {per_step * max_steps / 60:>8.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--presets", nargs="+", default=["small", "paper"])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--recipe", type=Path, help="time this training recipe (TOML) at 1 and 2 threads instead")
    parser.add_argument("--recipe-size", type=int, default=32, help="image size of the recipe's data (cpu-small: 32)")
    args = parser.parse_args()
    if args.recipe:
        recipe_speed(args.recipe, args.steps, args.recipe_size)
        return
    torch.set_num_threads(args.threads)

    print(f"batch {args.batch}, {args.threads} threads, median of {args.steps} steps after 1 warm-up; seconds per step")
    print(f"{'size':>5} {'preset':<7} {'render+flow':>12} {'networks':>10} {'total':>8} {'share':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            root = Path(tmp) / f"data{size}"
            synthesize(root, SynthConfig(images=8, videos=2, frames=4, size=size))
            for preset in args.presets:
                t = measure(root, Path(tmp) / f"run{size}{preset}", preset, args.batch, args.steps)
                share = t["time/render_flow"] / t["time/total"]
                print(f"{size:>5} {preset:<7} {t['time/render_flow']:>12.3f} {t['time/networks']:>10.3f} {t['time/total']:>8.3f} {share:>6.1%}", flush=True)


if __name__ == "__main__":
    main()
