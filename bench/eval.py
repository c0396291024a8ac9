"""Speed of ``tfv eval`` against the edit it scores: ``python bench/eval.py``.

A swap of two synthetic 48-frame 256² clips (the demo's people) is edited and then evaluated with identity
and target given (E_tmp with the 3-D flow, E_id, E_pose, E_exp, pose confidence; no TV-L1, no FID). The
edit is timed twice — with precomputed landmarks, as ``bench/edit.py`` does, and detecting them with dlib,
as a user's edit does — and the evaluation once, back to back in each repeat (alternating the order), at 1
and 2 torch threads. Each evaluation detects and fits the output and the target again.

Goal (issue 13): evaluation time ≤ 2 × the edit's.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from tfvsdk.demo import synth_clips
from tfvsdk.editor import Editor
from tfvsdk.evaluate import Evaluator


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=48)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clips = synth_clips(folder, size=args.size, frames=args.frames, fps=25.0, noise=1.0, seed=0)
        sources = {"identity": clips["alice"].path, "target": clips["bob"].path}
        landmarks = {"identity": clips["alice"].landmarks, "target": clips["bob"].landmarks}
        output = folder / "swap.mp4"
        editor, evaluator = Editor("swap"), Evaluator()
        runs: dict[str, Callable[[], object]] = {
            "edit, given landmarks": lambda: editor.run(sources, output, landmarks=landmarks, overwrite=True),
            "edit, dlib landmarks": lambda: editor.run(sources, output, overwrite=True),
            "eval": lambda: evaluator.evaluate(output, **sources),
        }
        rows = []
        for threads in args.threads:
            torch.set_num_threads(threads)
            for run in runs.values():
                run()
            times: dict[str, list[float]] = {name: [] for name in runs}
            for repeat in range(args.repeats):
                for name in sorted(runs, reverse=repeat % 2 == 1):
                    times[name].append(timed(runs[name]))
            stages = evaluator.evaluate(output, **sources).summary["stage_seconds"]
            rows.append((threads, {name: statistics.median(t) for name, t in times.items()}, stages))

    print(f"## tfv eval vs the edit: swap, {args.frames} frames at {args.size}², median of {args.repeats}\n")
    print("| threads | edit, given landmarks (s) | edit, dlib landmarks (s) | eval (s) | eval / edit (given) | eval / edit (dlib) | goal ≤ 2 |")
    print("|---|---|---|---|---|---|---|")
    for threads, median, _ in rows:
        given, detected, evaluation = median["edit, given landmarks"], median["edit, dlib landmarks"], median["eval"]
        met = "yes" if evaluation <= 2 * detected else "no"
        print(f"| {threads} | {given:.2f} | {detected:.2f} | {evaluation:.2f} | {evaluation / given:.2f} | {evaluation / detected:.2f} | {met} |")
    print("\n## eval stages (s, last run)\n")
    names = list(rows[0][2])
    print("| threads | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for threads, _, stages in rows:
        print(f"| {threads} | " + " | ".join(f"{stages[n]:.2f}" for n in names) + " |")


if __name__ == "__main__":
    main()
