"""Every ``tfv`` failure ends with one line ``Error: …`` and a non-zero status; --debug adds the traceback."""

from __future__ import annotations

import os

import click
import pytest

import tfvsdk.cli
from tfvsdk.cli import cli, main


def run(*args):
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code


@pytest.fixture
def broken_command(monkeypatch):
    @click.command("broken")
    def broken() -> None:
        raise RuntimeError("something\nunexpected")

    cli.add_command(broken)
    yield
    cli.commands.pop("broken")


def test_an_unexpected_error_is_one_line_without_traceback(broken_command, capsys):
    assert run("broken") == 1
    err = capsys.readouterr().err
    assert err == "Error: RuntimeError: something unexpected (an unexpected error; tfv --debug shows where)\n"


def test_debug_shows_the_traceback(broken_command, capsys):
    assert run("--debug", "broken") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "Traceback (most recent call last):" and err[-1].startswith("Error: RuntimeError: something")


@pytest.mark.parametrize(("toml", "message"), [
    (b'[optim]\nbetas = ["a", "b"]\n', "betas = ['a', 'b']: expected a list of 2 numbers"),
    (b"[optim]\nbetas = [[0.5], [0.9]]\n", "expected a list of 2 numbers"),
    (b"[optim]\nlr_g = inf\n", "OptimConfig.lr_g: expected a value > 0 and finite, got inf"),
    (b"[loss]\ntemporal = inf\n", "LossConfig.temporal: expected a value ≥ 0 and finite, got inf"),
    (b"[data]\nbatch_size = 9223372036854775807\n", "DataConfig.batch_size: expected a value > 0 and ≤ 2147483647"),
    (b'[run]\nout = "\xff\xfe"\n', "not UTF-8 text"),
])
def test_bad_train_configs_are_one_line(tmp_path, capsys, toml, message):
    config = tmp_path / "train.toml"
    config.write_bytes(toml)
    assert run("train", "--config", str(config)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"Error: {config}") and message in err, err


def test_usage_errors_end_with_an_error_line(capsys):
    assert run("--threads", "0", "plugins") == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == "Error: Invalid value for '--threads': 0 is not in the range x>=1."


def test_threads_sets_torch_threads(monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        main(["--threads", "1", "plugins", "--kind", "model"])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert os.environ.get("OMP_WAIT_POLICY")  # set by tfvsdk.cli at import, unless the environment chose
