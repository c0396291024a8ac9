"""``tfv train`` with the writer failing at each stage while saving a checkpoint (and the other outputs):
a non-zero exit, the previous checkpoint intact, no partial file."""

from __future__ import annotations

import pytest

from tfvsdk.cli import main
from tfvsdk.data.synth import SynthConfig, synthesize

from fault_helpers import STAGES, inject, partial_files


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("fault-data") / "synth"
    synthesize(root, SynthConfig(images=4, videos=2, frames=3, size=32, seed=1))
    return root


def train(config, *extra):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--config", str(config), *extra])
    return exit_info.value.code


def config_file(tmp_path, dataset):
    config = tmp_path / "train.toml"
    config.write_text(
        f'[data]\nroot = "{dataset}"\nbatch_size = 1\n[components]\nblender_config = {{ preset = "small" }}\n'
        f'[run]\nout = "{tmp_path / "run"}"\nmax_steps = 1\nevery = 1\nlog_every = 1\ndevice = "cpu"\n'
    )
    return config


@pytest.mark.parametrize("stage", [s for s in STAGES if s != "verify"])
@pytest.mark.parametrize("suffix", [".pt", ".png", ".safetensors"])
def test_a_failing_writer_keeps_the_last_good_files(dataset, tmp_path, monkeypatch, capsys, stage, suffix):
    config = config_file(tmp_path, dataset)
    main(["train", "--config", str(config)])  # a good first step
    run = tmp_path / "run"
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob(f"*{suffix}")}
    assert before, f"the first run wrote no {suffix} file"
    capsys.readouterr()

    inject(monkeypatch, stage, suffix)
    assert train(config, "--max-steps", "2") == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith("Error: ") and suffix in error[-1], error
    after = {p.relative_to(run): p.read_bytes() for p in run.rglob(f"*{suffix}") if p.relative_to(run) in before}
    assert after == before
    assert partial_files(run) == []
