"""Checkpoints: atomic writes that survive a crash mid-write, weights-only loading, exact RNG restore."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from tfvsdk import publish
from tfvsdk.errors import ModelFileError
from tfvsdk.train.checkpoint import CheckpointDir, load_checkpoint, rng_state, save_checkpoint, set_rng_state


def state(value: float) -> dict:
    model = torch.nn.Linear(3, 2)
    torch.nn.init.constant_(model.weight, value)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999))
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    return {"step": int(value), "model": model.state_dict(), "optim": opt.state_dict(), "rng": rng_state(), "note": "x"}


def test_round_trip_with_weights_only(tmp_path):
    saved = state(1.0)
    save_checkpoint(tmp_path / "c.pt", saved)
    back = load_checkpoint(tmp_path / "c.pt")
    assert back["step"] == 1 and torch.equal(back["model"]["weight"], saved["model"]["weight"])
    assert back["optim"]["param_groups"][0]["betas"] == (0.5, 0.999)
    assert list(tmp_path.iterdir()) == [tmp_path / "c.pt"]


def test_crash_during_write_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, state(1.0))
    good = path.read_bytes()

    real_save = torch.save

    def dies_half_way(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.truncate(f.tell() // 2)
        raise KeyboardInterrupt  # e.g. Ctrl-C or a pre-emption signal in the middle of writing

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, state(2.0))
    assert path.read_bytes() == good
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_killed_process_never_replaces_the_last_good_checkpoint(tmp_path):
    """A hard kill (no exception handling runs) half-way through writing the new checkpoint."""
    path = tmp_path / "last.pt"
    save_checkpoint(path, state(1.0))
    good = path.read_bytes()
    script = textwrap.dedent(
        f"""
        import os, torch
        from tfvsdk.train.checkpoint import save_checkpoint
        real = torch.save
        def killed(obj, f, *a, **k):
            real(obj, f, *a, **k)
            f.truncate(f.tell() // 2)
            f.flush()
            os._exit(9)
        torch.save = killed
        save_checkpoint({str(path)!r}, {{"step": 2, "w": torch.zeros(1000)}})
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.returncode == 9, result.stderr.decode()
    assert path.read_bytes() == good
    assert load_checkpoint(path)["step"] == 1
    (leftover,) = [p for p in tmp_path.iterdir() if p.name != "last.pt"]
    assert leftover.name.startswith(".last.pt.") and publish.leftover_owner(leftover) not in (None, os.getpid())
    next_run = f"from tfvsdk.train.checkpoint import save_checkpoint; save_checkpoint({str(path)!r}, {{'step': 3}})"
    subprocess.run([sys.executable, "-c", next_run], check=True, timeout=120)  # removes what the killed run left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_corrupt_or_unsafe_files_are_refused(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="bad.pt"):
        load_checkpoint(tmp_path / "bad.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("code ran",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ModelFileError, match="evil.pt"):
        load_checkpoint(tmp_path / "evil.pt")


def test_rng_state_restores_every_generator(tmp_path):
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    save_checkpoint(tmp_path / "r.pt", {"rng": rng_state()})
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    set_rng_state(load_checkpoint(tmp_path / "r.pt")["rng"])
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], got[0]) and np.array_equal(expected[1], got[1]) and expected[2] == got[2]


def test_checkpoint_dir_keeps_last_and_recent_steps(tmp_path):
    ckpts = CheckpointDir(tmp_path / "ck", keep=2)
    for step in (10, 20, 30):
        ckpts.save(step, {"step": step})
    assert [p.name for p in ckpts.steps()] == ["step-00000020.pt", "step-00000030.pt"]
    assert load_checkpoint(ckpts.last)["step"] == 30


def test_a_new_run_in_a_used_folder_keeps_its_own_checkpoints(tmp_path):
    folder = CheckpointDir(tmp_path, keep=2)
    for step in (750, 1000):  # an earlier run
        folder.save(step, {"step": step})
    folder.save(250, {"step": 250})  # a new run started with --no-resume
    assert [p.name for p in folder.steps()] == ["step-00000250.pt"]
    assert load_checkpoint(folder.last)["step"] == 250
    folder.save(500, {"step": 500})
    folder.save(750, {"step": 750})
    assert [load_checkpoint(p)["step"] for p in folder.steps()] == [500, 750]
