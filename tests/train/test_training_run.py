"""A short synthetic training run (a small direct G, 64²) lowers L_rec, and L_tmp's gradient lowers L_tmp.

Measured on fixed evaluation batches of video pairs (:meth:`Trainer.evaluate`), not on the noisy training
batches. Three settings differ from the defaults, because the run must fit a CPU test budget and show the
two terms' own effect:

* G synthesises the frame from scratch (``output = "direct"``): the default residual G starts at the
  composite of R and the hint, whose L_rec is already low (tests/nn checks that start), so a fall of L_rec
  from a random start is what shows that the gradients of eq. 7 reach G and E.
* α (L_adv's weight) is 0.1 instead of 10: the adversarial term's effect on the output is checked elsewhere
  (tests/train/test_trainer.py, the gradient shares at the paper's weights); here it would only add noise
  that 200 steps cannot average out.
* L_tmp cannot fall from the start: a fresh direct G outputs a nearly constant frame, whose L_tmp is ≈ 0;
  it grows as the outputs gain detail. Its effect is shown the way the paper's ablation does (Table 2):
  from the same checkpoint, 40 more steps at the paper's λ = 5 give a lower L_tmp than 40 steps without it
  (measured at one thread: 0.0044 vs 0.0072, L_rec 0.046 vs 0.043; λ = 200, which the mean-of-squares
  L_tmp needed, now overwhelms L_rec: 0.069 vs 0.043).
"""

from __future__ import annotations

import shutil

import pytest
from train_helpers import MODEL

from tfvsdk.data.synth import SynthConfig, synthesize
from tfvsdk.train import Trainer, config_from_dict


DIRECT_SMALL = {"base_channels": 32, "n_down": 2, "n_res_blocks": 3, "embed_channels": 128, "output": "direct"}
"""The small G synthesising frames from scratch: these runs check that training lowers L_rec and L_tmp from a
random start (a residual G starts at the composite, see tests/nn for it)."""


def config(root, out, steps, temporal=5.0):
    return config_from_dict(
        {
            "data": {"root": str(root), "batch_size": 4},
            "components": {"model": MODEL[0], "model_config": MODEL[1], "blender_config": {"generator_config": DIRECT_SMALL}},
            "loss": {"adversarial": 0.1, "temporal": temporal},
            "run": {"out": str(out), "max_steps": steps, "every": steps, "log_every": 10, "seed": 0},
        }
    )


@pytest.mark.slow
def test_short_run_lowers_rec_and_tmp(tmp_path):
    root = tmp_path / "data"
    synthesize(root, SynthConfig(images=64, videos=8, frames=12, size=64, seed=1, model=MODEL[0], model_config=MODEL[1]))
    trainer = Trainer(config(root, tmp_path / "run", 200))
    evaluation = trainer.eval_batches(6)
    before = trainer.evaluate(evaluation)
    trainer.fit(progress=False)
    after = trainer.evaluate(evaluation)
    assert after["eval/reconstruction"] < 0.6 * before["eval/reconstruction"], (before, after)

    results = {}
    for name, weight in (("with", 5.0), ("without", 0.0)):
        shutil.copytree(tmp_path / "run", tmp_path / name)
        branch = Trainer(config(root, tmp_path / name, 240, temporal=weight))
        branch.fit(progress=False)
        results[name] = branch.evaluate(evaluation)
    assert results["with"]["eval/temporal"] < 0.7 * results["without"]["eval/temporal"], results
    assert results["with"]["eval/reconstruction"] < 1.2 * results["without"]["eval/reconstruction"], results
