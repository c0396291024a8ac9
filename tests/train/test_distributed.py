"""Distributed training: two gloo processes on CPU under torchrun, through the `tfv train` command."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest
import torch
from train_helpers import MODEL

from tfvsdk.train import load_checkpoint


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_processes_train_and_rank0_checkpoint_loads(synth_root, tmp_path):
    out = tmp_path / "run"
    model_config = ", ".join(f'{k} = "{v}"' for k, v in MODEL[1].items())
    config = tmp_path / "train.toml"
    config.write_text(
        f"""
[data]
root = "{synth_root}"
batch_size = 2

[components]
blender_config = {{ preset = "small" }}
model = "{MODEL[0]}"
model_config = {{ {model_config} }}

[run]
out = "{out}"
max_steps = 3
every = 3
log_every = 1
device = "cpu"
"""
    )
    tfv = shutil.which("tfv", path=os.path.dirname(sys.executable))
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}", "--no-python", tfv, "train", "--config", str(config)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "step 3:" in result.stdout and result.stdout.count("step 3:") == 1  # only rank 0 reports
    state = load_checkpoint(out / "checkpoints" / "last.pt")
    assert state["step"] == 3 and state["sampler"]["world_size"] == 2
    assert all(torch.isfinite(v).all() for v in state["blender"].values() if v.is_floating_point())
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
