"""Benchmark: torch threads and OpenMP's wait policy on a busy machine — what ``tfv --threads`` defaults to.

Each configuration (threads × ``OMP_WAIT_POLICY`` unset / PASSIVE) runs in its own process (the policy is
read when torch loads OpenMP), the configurations interleaved round after round. Workloads:

* ``fit``: the ``3ddfa`` reconstructor fitting 16 frames of synthetic landmarks (built-in model);
* ``step``: one training step of the ``small`` BSN on a 64² synthetic dataset (batch 2, with L_tmp).

``--load N`` keeps N extra processes spinning for the whole run (a busy machine: on 2 cores, ``--load 1``
leaves one core free). The table gives the median time per call over the rounds.

Usage: ``python bench/threads.py [--rounds 5] [--load 1] [--threads 1 2] [--workloads fit step]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _spin() -> None:
    while True:
        pass


def child(workload: str, threads: int, calls: int) -> float:
    """Seconds per call of ``workload`` at ``threads`` threads (after one warm-up call)."""
    import torch

    torch.set_num_threads(threads)
    if workload == "fit":
        sys.path.insert(0, str(ROOT / "tests" / "fitting"))
        import tfvsdk
        from fitting_helpers import random_fits, synthetic_landmarks

        model = tfvsdk.morphable.load_builtin()
        truth = random_fits(model, 16, seed=0)
        noisy = synthetic_landmarks(model, truth, noise=0.5, seed=0)
        rec = tfvsdk.create("reconstructor", "landmarks", model=model)
        detection = tfvsdk.Detection(torch.as_tensor(noisy).float(), torch.ones(16, dtype=torch.bool), truth.image_size)
        run = lambda: rec.fit_landmarks(detection)  # noqa: E731
    else:
        from tfvsdk.data.synth import SynthConfig, synthesize
        from tfvsdk.train import Trainer, config_from_dict

        folder = Path(tempfile.mkdtemp(prefix="bench-threads-"))
        synthesize(folder / "data", SynthConfig(images=8, videos=2, frames=4, size=64))
        trainer = Trainer(config_from_dict({
            "data": {"root": str(folder / "data"), "batch_size": 2},
            "components": {"blender_config": {"preset": "small"}, "renderer": "raster"},
            "run": {"out": str(folder / "run"), "max_steps": 100, "every": 10_000, "resume": False, "device": "cpu"},
        }))
        loader = iter(trainer._loader())
        run = lambda: trainer.train_step(next(loader))  # noqa: E731
    run()
    start = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--load", type=int, default=1, help="spinning processes besides the benchmark")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--workloads", nargs="+", default=["fit", "step"], choices=["fit", "step"])
    parser.add_argument("--child", nargs=3, metavar=("WORKLOAD", "THREADS", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(child(args.child[0], int(args.child[1]), int(args.child[2])))
        return
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.load)]
    for p in spinners:
        p.start()
    configs = [(w, t, policy) for w in args.workloads for t in args.threads for policy in ("", "PASSIVE")]
    times: dict[tuple, list[float]] = {c: [] for c in configs}
    try:
        for _ in range(args.rounds):
            for workload, threads, policy in configs:
                env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
                if policy:
                    env["OMP_WAIT_POLICY"] = policy
                out = subprocess.run([sys.executable, __file__, "--child", workload, str(threads), str(args.calls)],
                                     env=env, check=True, capture_output=True, text=True).stdout
                times[(workload, threads, policy)].append(float(out.split()[-1]))
    finally:
        for p in spinners:
            p.terminate()
    print(f"{os.cpu_count()} cores, {args.load} spinning process(es), {args.rounds} rounds × {args.calls} calls\n")
    print(f"{'workload':<8} {'threads':>7} {'OMP_WAIT_POLICY':>16} {'median s/call':>14} {'min':>8} {'max':>8}")
    for (workload, threads, policy), values in times.items():
        print(f"{workload:<8} {threads:>7} {policy or '(unset)':>16} {statistics.median(values):>14.3f} {min(values):>8.3f} {max(values):>8.3f}")


if __name__ == "__main__":
    main()
