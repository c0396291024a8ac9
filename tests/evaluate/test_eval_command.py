"""``tfv eval`` on the synthetic swaps: the JSON it prints, the CSV and the plot it writes, manifests."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from tfvsdk import InputError, io
from tfvsdk.cli import cli, main
from tfvsdk.evaluate import EvalConfig, Evaluator


def test_one_output_prints_the_papers_metrics_as_json(swaps, tmp_path):
    result = CliRunner().invoke(cli, [
        "eval", "--output", str(swaps["smoothed"]), "--identity", str(swaps["alice"]), "--target", str(swaps["bob"]),
        "--identity-frames", "3", "--json", "--csv", str(tmp_path / "csv"), "--plot", str(tmp_path / "curves.png"),
    ])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {"e_tmp", "e_id", "e_pose", "e_exp", "ssim", "fid"} <= set(summary)
    assert all(isinstance(summary[key], float) for key in ("e_tmp", "e_id", "e_pose", "e_exp"))
    assert summary["ssim"] is None and summary["fid"] is None and "fid" in summary["unavailable"]
    with open(tmp_path / "csv" / "swap_smoothed.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 16 and rows[0]["e_tmp"] == ""
    assert sum(float(row["e_tmp"]) > 0 for row in rows if row["e_tmp"]) >= 4, "pairs where dlib finds the face in both frames"
    picture = next(io.iter_frames(tmp_path / "curves.png"))
    assert picture.shape[1] == 900 and (picture != 255).any()


def test_a_manifest_scores_every_run_and_plots_them_together(swaps, tmp_path):
    manifest = tmp_path / "runs.toml"
    manifest.write_text(
        f'[defaults]\ntarget = "{swaps["bob"]}"\n\n'
        f'[[run]]\nname = "smoothed"\noutput = "{swaps["smoothed"]}"\n\n[[run]]\nname = "unsmoothed"\noutput = "{swaps["unsmoothed"]}"\n'
    )
    result = CliRunner().invoke(cli, ["eval", "--manifest", str(manifest), "--plot", str(tmp_path / "runs.png"), "--json-file", str(tmp_path / "runs.json")])

    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["smoothed", "unsmoothed"]
    rows = {row["name"]: row for row in json.loads((tmp_path / "runs.json").read_text())}
    assert rows["smoothed"]["e_tmp"] < rows["unsmoothed"]["e_tmp"]
    assert rows["smoothed"]["e_id"] is None and "identity" in rows["smoothed"]["unavailable"]["e_id"]
    picture = np.asarray(next(io.iter_frames(tmp_path / "runs.png")))
    red = (picture[..., 0] > 180) & (picture[..., 1] < 80)
    assert red.any(), "the second run's line is drawn"


def test_output_and_manifest_are_exclusive(swaps):
    result = CliRunner().invoke(cli, ["eval"])
    assert result.exit_code != 0 and "either --output" in result.output


def tfv_eval(*args):
    """``tfv eval ARGS`` as the console script runs it: (exit status, last line of stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", *map(str, args)])
    return exit_info.value.code


@pytest.fixture
def no_scoring(monkeypatch):
    """Fail the test if any video gets decoded for scoring or refitted."""
    def refuse(*args, **kwargs):
        raise AssertionError("a video was scored before the error")

    monkeypatch.setattr(Evaluator, "evaluate", refuse)
    monkeypatch.setattr(Evaluator, "_fit", refuse)


@pytest.mark.parametrize(("extra", "message"), [
    (["--device", "foo"], r"Invalid value for '--device': 'foo' is not a torch device"),
    (["--device", "cuda"], r"Invalid value for '--device': device 'cuda' is not available here"),
    (["--identity-frames", "-1"], r"Invalid value for '--identity-frames': -1 is not in the range x>=0"),
    (["--flow-smoothing", "-1"], r"Invalid value for '--flow-smoothing': -1\.0 is not in the range x>=0"),
    (["--max-pose-spread", "-2"], r"Invalid value for '--max-pose-spread'"),
    (["--inception-weights", "{tmp}/missing.pth"], r"Invalid value for '--inception-weights': File '.*missing\.pth' does not exist"),
    (["--inception-weights", "{tmp}/wrong.pth"], r"wrong\.pth: SHA-256 [0-9a-f]{64} differs from the expected 6726825d"),
    (["--reconstructor", "nope"], r"unknown reconstructor 'nope'.* Available: .*landmarks"),
    (["--identity-embedder", "dlb"], r"unknown identity_embedder 'dlb'; did you mean 'dlib'\?"),
    (["--plot", "{tmp}/missing/curves.png"], r"missing: output folder does not exist"),
    (["--plot", "{tmp}/curves.txt"], r"curves\.txt: expected an image name"),
    (["--json-file", "{identity}"], r"alice\.mp4: the output would overwrite an input"),
    (["--identity", "{tmp}/nobody.mp4"], r"nobody\.mp4: file not found"),
])
def test_bad_options_and_inputs_fail_before_any_video_is_scored(swaps, tmp_path, capsys, no_scoring, extra, message):
    (tmp_path / "wrong.pth").write_bytes(b"not the published Inception weights")
    extra = [e.format(tmp=tmp_path, identity=swaps["alice"]) for e in extra]
    code = tfv_eval("--output", swaps["smoothed"], "--identity", swaps["alice"], "--target", swaps["bob"], *extra)
    error = capsys.readouterr().err.strip().splitlines()
    assert code in (1, 2) and error[-1].startswith("Error: ") and "Traceback" not in "\n".join(error)
    assert re.search(message, error[-1]), error[-1]
    assert swaps["alice"].stat().st_size > 1000, "the identity video is intact"


def test_a_manifest_with_a_missing_source_fails_before_its_first_run(swaps, tmp_path, capsys, no_scoring):
    manifest = tmp_path / "runs.toml"
    manifest.write_text(
        f'[[run]]\nname = "good"\noutput = "{swaps["smoothed"]}"\ntarget = "{swaps["bob"]}"\n\n'
        f'[[run]]\nname = "bad"\noutput = "{swaps["unsmoothed"]}"\ntarget = "{tmp_path / "nobody.mp4"}"\n'
    )
    assert tfv_eval("--manifest", manifest) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"Error: {tmp_path / 'nobody.mp4'}: file not found"


def test_a_reference_of_another_size_is_refused_before_the_refit(swaps, tmp_path, monkeypatch):
    small = tmp_path / "small.mp4"
    with io.VideoWriter(small, fps=12) as writer:
        for _ in range(4):
            writer.write(np.zeros((64, 64, 3), np.uint8))

    def refuse(*args, **kwargs):
        raise AssertionError("the output was refitted before the error")

    monkeypatch.setattr(Evaluator, "_fit", refuse)
    with pytest.raises(InputError, match=r"small\.mp4: frames of \(64, 64\), the output's are \(160, 160\)"):
        Evaluator().evaluate(swaps["smoothed"], reference=small)


def test_an_evaluation_config_names_its_bad_field():
    for field, value, message in (("device", "foo", "device: 'foo' is not a torch device"),
                                  ("identity_frames", -1, "identity_frames: expected >= 0"),
                                  ("chunk_size", 0, "chunk_size: expected >= 1")):
        with pytest.raises(InputError, match=message):
            EvalConfig(**{field: value})
