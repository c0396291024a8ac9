"""A short synthetic training run (small preset, 64²) lowers L_rec, and L_tmp's gradient lowers L_tmp.

Measured on fixed evaluation batches of video pairs (:meth:`Trainer.evaluate`), not on the noisy training
batches. Two deviations from the paper's settings, both because the run must fit a CPU test budget:

* α (L_adv's weight) is 0.1 instead of 10. With L1 terms that are means over pixels (:mod:`tfvsdk.losses`)
  α = 10 makes the hinge term dominate the first few hundred steps, and L_rec *rises* (0.14 → 0.45 per
  video sample within 100 steps); 0.1 is pix2pix's L1 : GAN ratio of 100 : 1.
* L_tmp cannot fall from the start: G is initialised to a nearly constant output, whose L_tmp is ≈ 0; it
  grows as the outputs gain detail. Its effect is shown the way the paper's ablation does (Table 2): from
  the same checkpoint, continuing with L_tmp gives a lower L_tmp than continuing without it. λ = 200 is
  used because at λ = 5 the difference needs far more steps than a test can take.
"""

from __future__ import annotations

import shutil

import pytest
from train_helpers import MODEL

from tfvsdk.data.synth import SynthConfig, synthesize
from tfvsdk.train import Trainer, config_from_dict


def config(root, out, steps, temporal=5.0):
    return config_from_dict(
        {
            "data": {"root": str(root), "batch_size": 4},
            "components": {"model": MODEL[0], "model_config": MODEL[1], "blender_config": {"preset": "small"}},
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
    for name, weight in (("with", 200.0), ("without", 0.0)):
        shutil.copytree(tmp_path / "run", tmp_path / name)
        branch = Trainer(config(root, tmp_path / name, 240, temporal=weight))
        branch.fit(progress=False)
        results[name] = branch.evaluate(evaluation)
    assert results["with"]["eval/temporal"] < 0.7 * results["without"]["eval/temporal"], results
    assert results["with"]["eval/reconstruction"] < 1.2 * results["without"]["eval/reconstruction"], results
