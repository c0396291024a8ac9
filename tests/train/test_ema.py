"""The weight average of G and E (optim.ema): formula, use in evaluation and export, exact resume."""

from __future__ import annotations

import pytest
import torch
from train_helpers import make_config

import tfvsdk
from tfvsdk.errors import InputError
from tfvsdk.train import Trainer
from tfvsdk.train.ema import WeightAverage


class _Blender(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.generator = torch.nn.Linear(2, 1)
        self.discriminator = torch.nn.Linear(1, 1)


def test_the_update_is_the_ramped_moving_average_computed_by_hand():
    net = _Blender()
    start = {k: v.clone().double() for k, v in net.generator.state_dict().items()}
    avg = WeightAverage(net, 0.5)
    assert avg.module.discriminator is None and net.discriminator is not None
    expected = start
    for n in range(4):
        with torch.no_grad():
            for p in net.generator.parameters():
                p.add_(torch.randn_like(p))
        beta = min(0.5, (1 + n) / (10 + n))  # 0.1, 0.1818…, 0.25, 0.3077… then capped at 0.5
        assert avg.current_decay() == pytest.approx(beta)
        live = {k: v.double() for k, v in net.generator.state_dict().items()}
        expected = {k: beta * expected[k] + (1 - beta) * live[k] for k in live}
        avg.update(net)
        for k, v in avg.module.generator.state_dict().items():
            torch.testing.assert_close(v.double(), expected[k], rtol=1e-6, atol=1e-7)
    assert avg.updates == 4
    assert WeightAverage(net, 0.999).current_decay() == pytest.approx(0.1)
    many = WeightAverage(net, 0.999)
    many.updates = 10**6
    assert many.current_decay() == 0.999


def test_swapping_in_the_average_restores_the_live_weights_and_leaves_d_alone():
    net = _Blender()
    avg = WeightAverage(net, 0.9)
    with torch.no_grad():
        net.generator.weight.add_(1.0)
    live, d = net.generator.weight.clone(), net.discriminator.weight.clone()
    with avg.swapped_into(net) as swapped:
        assert torch.equal(swapped.generator.weight, avg.module.generator.weight)
        assert torch.equal(swapped.discriminator.weight, d)
    assert torch.equal(net.generator.weight, live)


def test_a_decay_outside_0_1_is_refused():
    with pytest.raises(InputError, match="optim.ema"):
        WeightAverage(_Blender(), 1.0)
    with pytest.raises(InputError, match="ema"):
        make_config("x", "y", optim={"ema": 1.5})


def test_training_with_ema_evaluates_and_exports_the_average(synth_root, tmp_path):
    trainer = Trainer(make_config(synth_root, tmp_path, optim={"ema": 0.9}, run={"max_steps": 3}))
    trainer.fit(progress=False)
    assert trainer.ema.updates == 3
    assert trainer.inference_blender is trainer.ema.module
    live = trainer.components.blender.generator.tail.weight
    averaged = trainer.ema.module.generator.tail.weight
    assert not torch.equal(live, averaged)
    path = trainer.export_weights(tmp_path / "bsn.safetensors")
    assert torch.equal(trainer.components.blender.generator.tail.weight, live)  # restored after export
    loaded = tfvsdk.create("blender", "bsn", weights=path)
    assert torch.equal(loaded.generator.tail.weight, averaged)
    batches = trainer.eval_batches(1)
    ema_eval = trainer.evaluate(batches)
    trainer.ema = None
    assert ema_eval != trainer.evaluate(batches)


def test_resume_restores_the_average_bit_exactly(synth_root, tmp_path):
    straight = Trainer(make_config(synth_root, tmp_path / "a", optim={"ema": 0.9}, run={"every": 100}))
    straight.fit(progress=False)
    first = Trainer(make_config(synth_root, tmp_path / "b", optim={"ema": 0.9}, run={"every": 2}))
    first.fit(2, progress=False)
    del first
    resumed = Trainer(make_config(synth_root, tmp_path / "b", optim={"ema": 0.9}, run={"every": 2}))
    assert resumed.step == 2 and resumed.ema.updates == 2
    resumed.fit(progress=False)
    a, b = straight.state_dict()["ema"], resumed.state_dict()["ema"]
    assert a["updates"] == b["updates"] == 4
    for key, value in a["weights"].items():
        assert torch.equal(value, b["weights"][key]), key
    assert straight.evaluate(straight.eval_batches(1)) == resumed.evaluate(resumed.eval_batches(1))
