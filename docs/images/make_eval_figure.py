"""docs/images/eval_curves.png and the table in docs/evaluation.md: ``python docs/images/make_eval_figure.py``.

Runs ``tfv demo`` (without its own scoring) into a temporary folder and scores its smoothed and unsmoothed
swaps with the Evaluator, as ``tfv eval --manifest`` does.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch

from tfvsdk.demo import run_demo
from tfvsdk.eval_report import plot_curves
from tfvsdk.evaluate import Evaluator

HERE = Path(__file__).resolve().parent
KEYS = ("e_tmp", "e_id", "e_pose", "e_exp", "faces_found")


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run_demo(root, evaluate=False)
        evaluator = Evaluator()
        sources = {"identity": root / "sources" / "alice.mp4", "target": root / "sources" / "bob.mp4"}
        runs = [(name, evaluator.evaluate(root / f"{stem}.mp4", **sources)) for name, stem in (("smoothed", "swap"), ("unsmoothed", "swap_unsmoothed"))]
    plot_curves(HERE / "eval_curves.png", runs, width=720, panel_height=200)
    print(json.dumps({name: {key: result.summary[key] for key in KEYS} for name, result in runs}, indent=2))


if __name__ == "__main__":
    main()
