"""Training logs: TensorBoard events after a resume keep the checkpointed step."""

from __future__ import annotations

import pytest

from tfvsdk.train.logs import MetricsLog, read_metrics


def tensorboard_steps(folder) -> list[int]:
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    events = event_accumulator.EventAccumulator(str(folder / "tb"))
    events.Reload()
    return [event.step for event in events.Scalars("loss/total")]


def test_resume_drops_only_the_steps_after_the_checkpoint(tmp_path):
    log = MetricsLog(tmp_path)
    for step in (1, 2, 3, 4):
        log.write(step, {"loss/total": float(step)})
    log.close()
    log = MetricsLog(tmp_path, resume_step=2)  # the checkpoint was written at step 2
    for step in (3, 4):
        log.write(step, {"loss/total": 10.0 + step})
    log.close()
    assert [(m["step"], m["loss/total"]) for m in read_metrics(tmp_path)] == [(1, 1.0), (2, 2.0), (3, 13.0), (4, 14.0)]
    assert sorted(set(tensorboard_steps(tmp_path))) == [1, 2, 3, 4]
