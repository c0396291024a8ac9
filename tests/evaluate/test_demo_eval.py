"""Issue 13's acceptance sequence, as a user types it: ``tfv demo --out D`` then ``tfv eval`` of its swaps."""

from __future__ import annotations

import json

import pytest

from tfvsdk.cli import main


@pytest.mark.slow
def test_tfv_eval_of_the_demos_swaps_prints_the_papers_metrics_and_ranks_smoothing(tmp_path, capsys):
    pytest.importorskip("dlib")
    demo = tmp_path / "D"
    main(["demo", "--out", str(demo)])
    report = json.loads((demo / "report.json").read_text())
    capsys.readouterr()

    summaries = {}
    for name in ("swap", "swap_unsmoothed"):
        main(["eval", "--output", str(demo / f"{name}.mp4"), "--identity", str(demo / "sources" / "alice.mp4"),
              "--target", str(demo / "sources" / "bob.mp4"), "--json"])
        summaries[name] = json.loads(capsys.readouterr().out)

    for summary in summaries.values():
        assert {"e_tmp", "e_id", "e_pose", "e_exp", "ssim", "fid"} <= set(summary)
        assert all(isinstance(summary[key], float) for key in ("e_tmp", "e_id", "e_pose", "e_exp"))
        assert summary["ssim"] is None and "reference" in summary["unavailable"]["ssim"]
        assert summary["fid"] is None and "--inception-weights" in summary["unavailable"]["fid"]
    assert summaries["swap"]["e_tmp"] < summaries["swap_unsmoothed"]["e_tmp"]
    swap = report["tasks"]["swap"]
    assert swap["smoothed"]["E_tmp"] < swap["unsmoothed"]["E_tmp"], "the demo's report says the same"


def test_synth_clips_creates_its_folder(tmp_path):
    from tfvsdk.demo import PEOPLE, synth_clips

    clips = synth_clips(tmp_path / "new" / "clips", size=32, frames=2, fps=4.0, seed=1)

    assert sorted(clips) == sorted(PEOPLE)
    assert all(clip.path.is_file() for clip in clips.values())
