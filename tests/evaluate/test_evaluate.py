"""The Evaluator on synthetic swaps: what each metric needs, what it says, and why one is missing."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
import torch

import tfvsdk
from tfvsdk import io
from tfvsdk.errors import InputError
from tfvsdk.evaluate import EvalConfig, Evaluator, load_manifest, spread_frames

FAST = EvalConfig(identity_frames=4, reference_frames=2)


@pytest.fixture(scope="module")
def evaluator() -> Evaluator:
    torch.set_num_threads(1)
    return Evaluator(FAST)


@pytest.fixture(scope="module")
def scored(swaps, evaluator) -> dict:
    return {name: evaluator.evaluate(swaps[name], identity=swaps["alice"], target=swaps["bob"]) for name in ("smoothed", "unsmoothed")}


def test_smoothing_lowers_the_temporal_error(scored):
    smoothed, unsmoothed = scored["smoothed"].summary, scored["unsmoothed"].summary
    assert smoothed["e_tmp"] < unsmoothed["e_tmp"]
    assert smoothed["e_tmp_flow"] == "3d"


def test_every_requested_metric_has_a_value_or_a_reason(scored):
    result = scored["smoothed"]
    summary = result.summary
    for key in ("e_tmp", "e_id", "e_pose", "e_exp", "e_exp_coefficients", "pose_spread_median"):
        assert isinstance(summary[key], float), key
    assert len(summary["e_pose_euler"]) == 3
    assert summary["ssim"] is None and "reference" in summary["unavailable"]["ssim"]
    assert summary["fid"] is None and "Inception" in summary["unavailable"]["fid"]
    assert set(result.frames) >= {"e_tmp", "e_id", "e_pose", "e_exp", "pose_spread", "ssim"}
    assert all(len(column) == 16 for column in result.frames.values())
    assert np.isnan(result.frames["e_tmp"][0]), "frame 0 ends no pair"
    assert np.isfinite(result.frames["e_id"]).sum() <= 4


def test_e_id_is_smaller_for_the_same_person(swaps, evaluator):
    # The demo's people differ in face shape only (one albedo): dlib tells them apart, narrowly.
    same = evaluator.evaluate(swaps["alice"], identity=swaps["alice"]).summary["e_id"]
    other = evaluator.evaluate(swaps["bob"], identity=swaps["alice"]).summary["e_id"]
    assert 0 <= same < other


def test_a_black_and_white_identity_is_compared_in_greyscale(swaps, evaluator, tmp_path):
    """A greyscale copy of the identity scores its person as the colour original does (compared in colour,
    the missing colour alone would add a fifth of the distance between the two people)."""
    grey_alice = tmp_path / "alice_grey.mp4"
    with io.VideoWriter(grey_alice, 12.0) as writer:
        for frame in io.iter_frames(swaps["alice"]):
            writer.write(io.to_uint8(tfvsdk.metrics.luminance(io.to_tensor([frame])))[0])

    same = evaluator.evaluate(swaps["alice"], identity=swaps["alice"]).summary
    other = evaluator.evaluate(swaps["bob"], identity=swaps["alice"]).summary
    grey = evaluator.evaluate(swaps["alice"], identity=grey_alice).summary

    assert grey["e_id_greyscale"] and not same["e_id_greyscale"]
    assert abs(grey["e_id"] - same["e_id"]) < 0.1 * (other["e_id"] - same["e_id"])


def test_a_reference_gives_ssim_psnr_and_photometric_error(swaps, evaluator):
    same = evaluator.evaluate(swaps["bob"], reference=swaps["bob"]).summary
    other = evaluator.evaluate(swaps["smoothed"], reference=swaps["bob"]).summary

    assert same["ssim"] == pytest.approx(1.0) and same["photometric_error"] == 0.0 and same["psnr"] == 100.0
    assert other["ssim"] < 0.99 and other["photometric_error"] > 0.5
    assert same["e_id"] is None and "identity" in same["unavailable"]["e_id"]


def test_colour_outliers_find_a_blotch_neither_source_has(swaps, evaluator, scored, tmp_path):
    """A green patch painted on the swapped face's cheek (a tenth of the face's height wide) in every frame."""
    blotched = tmp_path / "blotched.mp4"
    fit = evaluator.reconstructor.fit(io.to_tensor(list(io.iter_frames(swaps["smoothed"]))))
    with io.VideoWriter(blotched, 12.0) as writer:
        for frame, points in zip(io.iter_frames(swaps["smoothed"]), fit.landmarks.numpy()):
            if np.isfinite(points).all():
                x, y = points[[2, 30]].mean(0).round().astype(int)  # between the jaw and the nose tip
                r = max(2, round(0.05 * np.ptp(points[:, 1])))
                frame = frame.copy()
                frame[y - r : y + r, x - r : x + r] = (frame[y - r : y + r, x - r : x + r] * [0.5, 1.0, 0.6]).astype(np.uint8)
            writer.write(frame)

    clean = scored["smoothed"]
    spoilt = evaluator.evaluate(blotched, identity=swaps["alice"], target=swaps["bob"])

    assert clean.summary["colour_outliers"] <= 0.01
    assert spoilt.summary["colour_outliers"] >= clean.summary["colour_outliers"] + 0.01
    assert np.isfinite(spoilt.frames["colour_outliers"]).sum() >= 8  # dlib misses a few of these 160² synthetic faces


def test_stray_edges_find_a_streak_neither_source_has(swaps, evaluator, scored, tmp_path):
    """A dark streak painted down the swapped face's cheek (halfway between the nose and the jaw's outline,
    from below the eye to the mouth) in every frame."""
    streaked = tmp_path / "streaked.mp4"
    fit = evaluator.reconstructor.fit(io.to_tensor(list(io.iter_frames(swaps["smoothed"]))))
    with io.VideoWriter(streaked, 12.0) as writer:
        for frame, points in zip(io.iter_frames(swaps["smoothed"]), fit.landmarks.numpy()):
            if np.isfinite(points).all():
                x, top, bottom = int(round((points[31, 0] + points[2, 0]) / 2)), int(points[41, 1]) + 4, int(points[48, 1])
                frame = frame.copy()
                frame[top:bottom, x - 1 : x + 1] = (frame[top:bottom, x - 1 : x + 1] * 0.6).astype(np.uint8)
            writer.write(frame)

    clean = scored["smoothed"]
    spoilt = evaluator.evaluate(streaked, identity=swaps["alice"], target=swaps["bob"])

    assert clean.summary["stray_edges"] <= 0.01
    assert spoilt.summary["stray_edges"] >= max(3 * clean.summary["stray_edges"], clean.summary["stray_edges"] + 0.005)
    assert np.isfinite(spoilt.frames["stray_edges"]).sum() >= 8


def test_stray_edges_need_the_identity(swaps, evaluator):
    summary = evaluator.evaluate(swaps["smoothed"], target=swaps["bob"]).summary
    assert summary["stray_edges"] is None and "--identity" in summary["unavailable"]["stray_edges"]


def test_colour_outliers_need_a_source(swaps, evaluator):
    summary = evaluator.evaluate(swaps["smoothed"]).summary
    assert summary["colour_outliers"] is None and "--target or --identity" in summary["unavailable"]["colour_outliers"]


@pytest.mark.slow
def test_tvl1_flow_of_the_target(swaps):
    pytest.importorskip("cv2")
    result = Evaluator(EvalConfig(flow="tvl1")).evaluate(swaps["unsmoothed"], target=swaps["bob"])
    assert result.summary["e_tmp_flow"] == "tvl1" and result.summary["e_tmp"] > 0
    assert np.isfinite(result.frames["e_tmp"][1:]).all()


def test_a_still_is_not_a_video_to_evaluate(tmp_path, evaluator):
    still = tmp_path / "still.png"
    io.write_image(still, np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(InputError, match="at least 2 frames"):
        evaluator.evaluate(still)


def test_a_manifest_lists_runs_with_defaults_and_folders(tmp_path):
    (tmp_path / "outs").mkdir()
    for name in ("b.mp4", "a.mp4", "notes.txt"):
        (tmp_path / "outs" / name).write_bytes(b"x")
    manifest = tmp_path / "runs.toml"
    manifest.write_text('[defaults]\nidentity = "alice.mp4"\n\n[[run]]\noutput = "outs"\n\n[[run]]\nname = "one"\noutput = "x.mp4"\ntarget = "bob.mp4"\n')

    runs = load_manifest(manifest)

    assert [name for run in runs for name, _ in run.videos()] == ["outs/a.mp4", "outs/b.mp4", "one"]
    assert runs[1].identity == tmp_path / "alice.mp4" and runs[1].target == tmp_path / "bob.mp4"
    manifest.write_text('[[run]]\noutput = "x.mp4"\nidentty = "a.mp4"\n')
    with pytest.raises(InputError, match="identty"):
        load_manifest(manifest)


def test_spread_frames_keep_both_ends():
    assert spread_frames(48, 4).tolist() == [0, 16, 31, 47]
    assert spread_frames(3, 16).tolist() == [0, 1, 2]


def test_pose_and_expression_sources_can_differ(swaps, evaluator, scored):
    only_pose = evaluator.evaluate(swaps["smoothed"], pose=swaps["bob"]).summary

    assert only_pose["e_pose"] == pytest.approx(scored["smoothed"].summary["e_pose"])
    assert only_pose["e_exp"] is None and "expression" in only_pose["unavailable"]["e_exp"]


class MeanColour(tfvsdk.IdentityEmbedder):
    """A deliberately crude second descriptor: each image's mean colour, centred on grey."""

    dim = 3

    def embed(self, images, *, detection=None, video=False):
        return images.mean((2, 3)) - 0.5


class MeanColourPlugin:
    @tfvsdk.hookimpl
    def register_identity_embedders(self, register):
        register("mean-colour", MeanColour, description="mean colour, centred on grey")


def unit_mean_colours(path, picks):
    frames = np.stack(list(io.iter_frames(path)))[picks].astype(np.float64) / 255
    vectors = frames.mean((1, 2)) - 0.5
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_a_second_identity_descriptor_is_a_plugin(swaps, fresh_plugins):
    fresh_plugins.register(MeanColourPlugin(), name="mean-colour-plugin")
    evaluator = Evaluator(attrs.evolve(FAST, identity_embedder="mean-colour"))
    evaluator.prepare(["identity_embedder"])  # a registered name: no error before the work

    result = evaluator.evaluate(swaps["smoothed"], identity=swaps["alice"])

    reference = unit_mean_colours(swaps["alice"], spread_frames(16, FAST.reference_frames)).mean(0)
    reference /= np.linalg.norm(reference)
    picks = spread_frames(16, FAST.identity_frames)
    expected = 1 - unit_mean_colours(swaps["smoothed"], picks) @ reference
    assert result.frames["e_id"][picks] == pytest.approx(expected, abs=1e-5)
    assert result.summary["e_id"] == pytest.approx(expected.mean(), abs=1e-5) and "e_id" not in result.summary["unavailable"]
