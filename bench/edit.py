"""End-to-end editing speed and memory: ``python bench/edit.py``.

1. **Speed** — ``tfv swap`` at 256² on two synthetic 48-frame clips with precomputed landmarks (no detector):
   frames per second of the whole edit (both passes: fitting, texture, rendering, blending, encoding) for the
   ``classical`` blender and the ``bsn`` blender's small preset (random weights: speed only).
2. **Memory** — the same edit on a 10 s and a 100 s target (25 fps, 128²), each in a fresh process, peak
   resident set size (``VmHWM``) of each edit process and their ratio (the sources are written by this
   process beforehand).

The speed runs' outputs are scored with ``tfv eval``'s :class:`~tfvsdk.evaluate.Evaluator` (E_tmp, E_id,
E_pose, E_exp), so a faster blender that flickers more shows up in the same report. The long clips are a short synthetic clip
   played forward and backward (smooth motion), with its landmarks repeated the same way.

Goals (issue 6, 2 cores): ≥ 10 fps classical, ≥ 2 fps BSN small, RSS growth ≤ 1.1×.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import tfvsdk
from tfvsdk import io
from tfvsdk.demo import synth_clips
from tfvsdk.editor import Editor
from tfvsdk.evaluate import Evaluator


def ping_pong(count: int, period: int) -> np.ndarray:
    """Frame indices 0 … period−1 … 0 … repeated to ``count`` entries."""
    cycle = np.concatenate([np.arange(period), np.arange(period - 2, 0, -1)])
    return np.resize(cycle, count)


def long_sources(folder: Path, seconds: float, fps: float = 25.0, size: int = 128) -> None:
    """Write ``<folder>/{identity,target}.mp4`` and ``.npy`` landmarks, ``seconds`` long."""
    clips = synth_clips(folder, size=size, frames=50, fps=fps, noise=1.0, seed=1)
    order = ping_pong(int(round(seconds * fps)), 50)
    for role, name in (("identity", "alice"), ("target", "bob")):
        frames = list(io.iter_frames(clips[name].path))
        with io.VideoWriter(folder / f"{role}.mp4", fps) as writer:
            for i in order:
                writer.write(frames[i])
        np.save(folder / f"{role}.npy", clips[name].landmarks[order])


def high_water_mib() -> float:
    """Peak resident set of this process image (``VmHWM``; unlike ``ru_maxrss`` it does not inherit the
    peak of the parent that forked it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_run(folder: Path) -> dict:
    """Child process: edit the sources in ``folder`` and report the peak RSS of the whole process."""
    torch.set_num_threads(1)
    roles = ("identity", "target")
    sources = {role: folder / f"{role}.mp4" for role in roles}
    landmarks = {role: np.load(folder / f"{role}.npy") for role in roles}
    editor = Editor("swap")
    before = high_water_mib()
    summary = editor.run(sources, folder / "out.mp4", landmarks=landmarks)
    peak = high_water_mib()
    return {"frames": summary.frames, "peak_rss_mib": peak, "rss_before_edit_mib": before,
            "fps": summary.frames / summary.seconds}


def speed(blender: str, clips: dict, out: Path) -> float:
    sources = {"identity": clips["alice"].path, "target": clips["bob"].path}
    landmarks = {"identity": clips["alice"].landmarks, "target": clips["bob"].landmarks}
    # Speed only: an untrained BSN network costs what a trained one does.
    editor = Editor("swap", blender=tfvsdk.create("blender", blender))
    editor.run(sources, out / f"warm_{blender}.mp4", landmarks=landmarks)
    started = time.perf_counter()
    summary = editor.run(sources, out / f"{blender}.mp4", landmarks=landmarks)
    return summary.frames / (time.perf_counter() - started)


def quality(blender: str, clips: dict, out: Path, evaluator: Evaluator) -> dict:
    """``tfv eval``'s summary of the speed run's output (E_tmp with the refit's 3-D flow, E_id, E_pose, E_exp)."""
    return evaluator.evaluate(out / f"{blender}.mp4", identity=clips["alice"].path, target=clips["bob"].path).summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads for the speed part (the goals are for 2 cores)")
    parser.add_argument("--short", type=float, default=10.0, help="seconds of the short memory clip")
    parser.add_argument("--long", type=float, default=100.0, help="seconds of the long memory clip")
    args = parser.parse_args()
    if args.memory_child is not None:
        print(json.dumps(memory_run(args.memory_child)))
        return

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        clips = synth_clips(Path(tmp), size=256, frames=48, fps=25.0, noise=1.0, seed=0)
        fps = {blender: speed(blender, clips, Path(tmp)) for blender in ("classical", "bsn")}
        evaluator = Evaluator()
        scores = {blender: quality(blender, clips, Path(tmp), evaluator) for blender in fps}
    print(f"## Speed: swap at 256², 48 frames, {args.threads} thread(s)\n")
    print("| blender | frames/s | goal | met |\n|---|---|---|---|")
    for blender, goal in (("classical", 10.0), ("bsn", 2.0)):
        print(f"| {blender} | {fps[blender]:.2f} | ≥ {goal:g} | {'yes' if fps[blender] >= goal else 'no'} |")
    print("\n## Quality of those outputs (tfv eval; the bsn weights are random)\n")
    print("| blender | E_tmp | E_id | E_pose (°) | E_exp (px) | faces found |\n|---|---|---|---|---|---|")
    for blender, summary in scores.items():
        cells = [f"{summary[key]:.3f}" if summary[key] is not None else "n/a" for key in ("e_tmp", "e_id", "e_pose", "e_exp")]
        print(f"| {blender} | " + " | ".join(cells) + f" | {summary['faces_found']} / {summary['frames']} |")

    runs = []
    for seconds in (args.short, args.long):
        with tempfile.TemporaryDirectory() as tmp:
            long_sources(Path(tmp), seconds)
            child = subprocess.run(
                [sys.executable, __file__, "--memory-child", tmp], check=True, capture_output=True, text=True
            )
        runs.append({"seconds": seconds, **json.loads(child.stdout.strip().splitlines()[-1])})
    print("\n## Memory: swap at 128², 25 fps, each in a fresh process\n")
    print("| target | frames | frames/s | RSS before edit (MiB) | peak RSS (MiB) |\n|---|---|---|---|---|")
    for run in runs:
        print(f"| {run['seconds']:g} s | {run['frames']} | {run['fps']:.1f} | {run['rss_before_edit_mib']:.0f} | {run['peak_rss_mib']:.0f} |")
    ratio = runs[1]["peak_rss_mib"] / runs[0]["peak_rss_mib"]
    print(f"\npeak RSS {args.long:g} s / {args.short:g} s: {ratio:.3f}× (goal ≤ 1.1×: {'met' if ratio <= 1.1 else 'not met'})")


if __name__ == "__main__":
    main()
