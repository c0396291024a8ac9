"""bench/ablation.py: its statistics and the reuse of finished runs that makes an interrupted ablation resumable."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from tfvsdk import InputError

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "ablation.py"


@pytest.fixture(scope="module")
def ablation():
    spec = importlib.util.spec_from_file_location("ablation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def job(tmp_path: Path, ablation, **changes) -> dict:
    return {"arm": "full", "seed": 0, "steps": 5, "size": 24, "data": str(tmp_path / "no-data"), "eval_clips": 2,
            "data_seed": 2, "recipe": ablation.recipe(), "code": ablation.code_version(),
            "out": str(tmp_path / "runs" / "full-s0"), **changes}


def test_summary_is_the_mean_with_a_student_t_interval(ablation):
    stats = ablation.summary([1.0, 2.0, 3.0])
    half = 4.303 * 1.0 / math.sqrt(3)
    assert stats["mean"] == 2.0 and stats["per_seed"] == [1.0, 2.0, 3.0]
    assert stats["ci95"] == pytest.approx([2.0 - half, 2.0 + half])
    assert ablation.summary([5.0])["ci95"] == [5.0, 5.0]


def test_a_finished_run_of_the_same_job_is_reused_without_training(tmp_path, ablation):
    done = job(tmp_path, ablation)
    Path(done["out"]).mkdir(parents=True)
    result = {"arm": "full", "seed": 0, "seconds": 1.0, "e_tmp": 8.0, "ssim": 0.9, "mae": 5.0, "e_tmp_truth": 8.5, "e_tmp_swap": 8.1}
    (Path(done["out"]) / "result.json").write_text(json.dumps({**result, "job": done}))

    assert ablation.run_one(done) == {**result, "job": done, "reused": True}  # no data there: it did not train


@pytest.mark.parametrize("change", [{"steps": 6}, {"data_seed": 3}, {"recipe": {"loss": {"temporal": 1.0}}}, {"code": "0" * 16}])
def test_a_run_of_other_settings_is_not_reused(tmp_path, ablation, change):
    done = job(tmp_path, ablation)
    Path(done["out"]).mkdir(parents=True)
    (Path(done["out"]) / "result.json").write_text(json.dumps({"e_tmp": 8.0, "job": done}))

    with pytest.raises(InputError, match="no-data"):  # it tries to train, on data that is not there
        ablation.run_one({**done, **change})


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    from tfvsdk.data.synth import SynthConfig, synthesize

    data = tmp_path_factory.mktemp("ablation-data") / "data"
    synthesize(data, SynthConfig(images=6, videos=5, frames=3, size=24, seed=2))
    return data


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path, ablation, tiny_data, monkeypatch, caplog):
    monkeypatch.setattr(ablation, "CHECKPOINT_EVERY", 2)
    first = job(tmp_path, ablation, steps=2, data=str(tiny_data))
    ablation.run_one(first)
    (Path(first["out"]) / "result.json").unlink()  # as if it stopped after its checkpoint at step 2
    (Path(first["out"]) / "job.json").write_text(json.dumps({**first, "steps": 4}))

    with caplog.at_level("INFO", logger="tfvsdk"):
        result = ablation.run_one({**first, "steps": 4})

    assert "resumed from" in caplog.text and "trained 2 steps" in caplog.text
    steps = [json.loads(line)["step"] for line in (Path(first["out"]) / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and max(steps) == 4
    assert math.isfinite(result["e_tmp"])


def test_a_checkpoint_of_another_job_is_not_resumed(tmp_path, ablation, tiny_data, monkeypatch, caplog):
    monkeypatch.setattr(ablation, "CHECKPOINT_EVERY", 2)
    other = job(tmp_path, ablation, steps=2, data=str(tiny_data), arm="no_tmp")
    ablation.run_one(other)
    (Path(other["out"]) / "result.json").unlink()

    with caplog.at_level("INFO", logger="tfvsdk"):
        ablation.run_one({**other, "arm": "full", "steps": 4})

    assert "resumed" not in caplog.text
    assert json.loads((Path(other["out"]) / "job.json").read_text())["arm"] == "full"
