"""E_tmp per frame pair, with the 3-D flow of known fits and with TV-L1 optical flow."""

from __future__ import annotations

import pytest
import torch

import tfvsdk
from tfvsdk.errors import InputError
from tfvsdk.metrics import fit_flows, temporal_error, tvl1_flows, warping_errors


def flicker(frames: torch.Tensor, at: int, amount: float) -> torch.Tensor:
    out = frames.clone()
    out[at] = (out[at] + amount).clamp(0, 1)
    return out


def test_a_still_video_has_no_warping_error_and_flicker_shows_in_its_two_pairs():
    still = torch.rand(1, 3, 16, 16).expand(5, -1, -1, -1)
    zero, ones = torch.zeros(4, 2, 16, 16), torch.ones(4, 1, 16, 16)
    assert warping_errors(still, zero, ones).tolist() == [0.0] * 4

    errors = warping_errors(flicker(still, 2, -0.5 * still[2].min()), zero, ones)

    assert errors[[0, 3]].tolist() == [0.0, 0.0]
    assert (errors[[1, 2]] > 0).all()


def test_the_pooled_error_is_the_mask_weighted_rms_of_the_pairs():
    frames = torch.rand(4, 3, 12, 12)
    flows = torch.randn(3, 2, 12, 12)
    masks = (torch.rand(3, 1, 12, 12) > 0.3).float()
    errors, counts = warping_errors(frames, flows, masks), masks.flatten(1).sum(1)

    pooled = ((errors**2 * counts).sum() / counts.sum()).sqrt()

    assert float(pooled) == pytest.approx(float(temporal_error(frames, flows, masks)), rel=1e-5)


def test_one_frame_is_not_a_video():
    with pytest.raises(InputError, match="at least 2 frames"):
        warping_errors(torch.rand(1, 3, 8, 8), torch.zeros(0, 2, 8, 8), torch.zeros(0, 1, 8, 8))


@pytest.fixture(scope="module")
def moving_face():
    """The built-in model's mean face translated by (+2, −1) px per frame: its fits, model and renderer."""
    model = tfvsdk.morphable.load_builtin()
    n = 4
    width = float(model.mean[:, 0].max() - model.mean[:, 0].min())
    camera = tfvsdk.Camera.from_euler(
        torch.zeros(n), torch.zeros(n), torch.zeros(n), scale=torch.full((n,), 60 / width),
        translation=torch.stack([40 + 2.0 * torch.arange(n), 48 - 1.0 * torch.arange(n)], 1),
    )
    found = torch.tensor([True, True, True, False])
    fits = tfvsdk.FaceFit(torch.zeros(n, model.n_id), torch.zeros(n, model.n_exp), camera, (96, 96), found=found)
    return fits, model, tfvsdk.create("renderer", "raster")


def test_fit_flows_follow_the_fitted_motion_and_skip_frames_without_a_face(moving_face):
    flows, masks = fit_flows(*moving_face)

    assert flows.shape == (3, 2, 96, 96) and masks.shape == (3, 1, 96, 96)
    visible = masks[:2, 0] > 0
    assert visible.sum() > 2 * 1500
    assert torch.allclose(flows[:2, 0][visible], torch.tensor(2.0), atol=1e-3)
    assert torch.allclose(flows[:2, 1][visible], torch.tensor(-1.0), atol=1e-3)
    assert float(masks[2].sum()) == 0.0, "frame 3 has no face"


def shifting_photo(photo: torch.Tensor, frames: int, step: int) -> torch.Tensor:
    """(frames, 3, 96, 96) float32 crops of ``photo`` moving ``step`` px to the right per frame."""
    return torch.cat([photo[..., 16:112, 16 + step * t : 112 + step * t] for t in range(frames)]).float()


def test_tvl1_flow_recovers_a_known_shift(astronaut):
    pytest.importorskip("cv2")
    video = shifting_photo(astronaut, 3, 2)  # content moves 2 px left per frame: it was at q + (2, 0)

    flows, masks = tvl1_flows(video)

    inner = masks[:, 0, 8:-8, 8:-8] > 0
    assert inner.float().mean() > 0.9
    assert (flows[:, 0, 8:-8, 8:-8][inner] + 2).abs().median() < 0.1
    assert flows[:, 1, 8:-8, 8:-8][inner].abs().median() < 0.1


def test_tvl1_warping_error_is_small_for_motion_and_grows_with_flicker(astronaut):
    pytest.importorskip("cv2")
    video = shifting_photo(astronaut, 4, 2)
    flows, masks = tvl1_flows(video)

    clean = warping_errors(video, flows, masks)
    flickering = warping_errors(flicker(video, 2, 0.1), flows, masks)

    assert float(clean.max()) < 2.0
    assert (flickering[1:3] > clean[1:3] + 10).all()
    assert float(flickering[0]) == pytest.approx(float(clean[0]))
