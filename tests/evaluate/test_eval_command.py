"""``tfv eval`` on the synthetic swaps: the JSON it prints, the CSV and the plot it writes, manifests."""

from __future__ import annotations

import csv
import json

import numpy as np
from click.testing import CliRunner

from tfvsdk import io
from tfvsdk.cli import cli


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
