"""The editing commands: ``tfv demo`` and the task commands generated from the composers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from tfvsdk import io
from tfvsdk.cli import _add_plugin_commands, cli, main


def invoke(*args: str):
    _add_plugin_commands()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_tfv_demo_writes_three_edits_a_contact_sheet_and_a_report(tmp_path):
    out = tmp_path / "demo"
    result = invoke("demo", "--out", str(out), "--size", "64", "--frames", "8")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert set(report["tasks"]) == {"swap", "reenact", "remix"}
    for task, entry in report["tasks"].items():
        assert entry["frames"] == 8
        for variant in ("smoothed", "unsmoothed"):
            assert io.probe(out / entry[variant]["output"]).n_frames == 8
            assert entry[variant]["E_tmp"] > 0
            assert set(entry[variant]["eval"]) >= {"e_tmp", "e_id", "e_pose", "e_exp", "unavailable"}
        assert f"{task:<8} 8 frames" in result.output
    sheet = next(io.iter_frames(out / "contact_sheet.png"))
    assert sheet.shape == (3 * 64, 3 * 4 * 64, 3)
    assert sorted(p.name for p in (out / "sources").iterdir()) == ["alice.mp4", "bob.mp4", "carol.mp4"]


def test_tfv_demo_keeps_files_it_would_replace_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "swap.mp4").write_bytes(b"my own video")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out", str(out), "--size", "48", "--frames", "4", "--no-eval"])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert "already holds swap.mp4" in error and "--overwrite" in error
    assert (out / "swap.mp4").read_bytes() == b"my own video"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "swap.mp4"]

    result = invoke("demo", "--out", str(out), "--size", "48", "--frames", "4", "--overwrite", "--no-eval")
    assert result.exit_code == 0, result.output
    assert io.probe(out / "swap.mp4").n_frames == 4
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(("extra", "message"), [
    (["--blender", "nope"], "Error: unknown blender 'nope'. Available: bsn, classical"),
    (["--blender", "bsn"], "Error: blender 'bsn' is a network and no trained weights were given"),
])
def test_tfv_demo_checks_its_blender_before_synthesising_anything(tmp_path, capsys, extra, message):
    out = tmp_path / "demo"
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out", str(out), "--size", "48", "--frames", "4", "--no-eval", *extra])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(message)
    assert not out.exists()


def test_tfv_demo_passes_opt_settings_to_its_components(tmp_path, capsys):
    plain, feathered = tmp_path / "plain", tmp_path / "feathered"
    for out, extra in ((plain, []), (feathered, ["--opt", "blender.feather=0.2", "--opt", "renderer.backend=torch"])):
        result = invoke("demo", "--out", str(out), "--size", "48", "--frames", "4", "--no-eval", *extra)
        assert result.exit_code == 0, result.output
    frames = {out: np.stack(list(io.iter_frames(out / "swap.mp4"))).astype(int) for out in (plain, feathered)}
    assert np.abs(frames[plain] - frames[feathered]).max() > 10  # a wider feather changes the seam

    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out", str(tmp_path / "typo"), "--size", "48", "--frames", "4", "--opt", "blender.fether=0.2"])
    assert exit_info.value.code == 1
    assert "did you mean 'feather'" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize(("command", "option", "value"), [
    ("demo", "--frames", "1"), ("demo", "--size", "0"), ("synth", "--size", "-1"), ("synth", "--images", "-3"),
])
def test_sizes_and_counts_out_of_range_name_the_flag(tmp_path, capsys, command, option, value):
    _add_plugin_commands()
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--out", str(tmp_path / "out"), option, value])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"Error: Invalid value for '{option}'")
    assert not (tmp_path / "out").exists()


def test_tfv_swap_with_precomputed_landmarks(clips, tmp_path, capsys):
    np.save(tmp_path / "alice.npy", clips["alice"].landmarks)
    np.save(tmp_path / "bob.npy", clips["bob"].landmarks)
    out = tmp_path / "swapped.mp4"
    args = ["swap", "--identity", str(clips["alice"].path), "--target", str(clips["bob"].path), "-o", str(out),
            "--landmarks", f"identity={tmp_path / 'alice.npy'}", "--landmarks", f"target={tmp_path / 'bob.npy'}"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert f"{out}: 10 frames at 10 fps" in result.output
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.strip() == f"Error: {out}: already exists (pass overwrite=True / --overwrite to replace it)"


def test_a_bad_landmarks_option_is_named(clips, tmp_path):
    result = invoke("swap", "--identity", str(clips["alice"].path), "--target", str(clips["bob"].path),
                    "-o", str(tmp_path / "x.mp4"), "--landmarks", "mouth=nowhere.npy")
    assert result.exit_code == 2
    assert "--landmarks" in result.output and "ROLE one of ['identity', 'target']" in result.output


def test_tfv_swap_tone_reaches_the_classical_blender(clips, tmp_path):
    np.save(tmp_path / "alice.npy", clips["alice"].landmarks)
    np.save(tmp_path / "bob.npy", clips["bob"].landmarks)
    outputs = {}
    for tone in ("identity", "target", "target-mean", "target-chroma", None):
        outputs[tone] = tmp_path / f"{tone or 'default'}.mp4"
        result = invoke("swap", "--identity", str(clips["alice"].path), "--target", str(clips["bob"].path), "-o", str(outputs[tone]),
                        "--landmarks", f"identity={tmp_path / 'alice.npy'}", "--landmarks", f"target={tmp_path / 'bob.npy'}",
                        *(("--tone", tone) if tone else ()))
        assert result.exit_code == 0, result.output
    frames = {tone: np.stack(list(io.iter_frames(path))).astype(int) for tone, path in outputs.items()}
    assert np.abs(frames["identity"] - frames["target"]).max() > 10
    assert np.abs(frames["target-mean"] - frames["target"]).max() > 10
    assert np.abs(frames["target-chroma"] - frames["target"]).max() > 3
    assert np.array_equal(frames[None], frames["target-chroma"])
