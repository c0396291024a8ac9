import torch

from tfvsdk import Camera, FaceFit
from tfvsdk.smoothing import bridge_gaps, gaussian_smooth, smooth_fit


def test_smoothing_keeps_constants_and_lowers_jitter():
    g = torch.Generator().manual_seed(0)
    clean = torch.linspace(0, 1, 50)[:, None].repeat(1, 3)
    noisy = clean + 0.05 * torch.randn(50, 3, generator=g)
    assert torch.allclose(gaussian_smooth(torch.full((20, 2), 3.0), 2.0), torch.full((20, 2), 3.0))
    smoothed = gaussian_smooth(noisy, 2.0)
    assert (smoothed - clean).abs().mean() < 0.5 * (noisy - clean).abs().mean()


def test_excluded_frames_do_not_pull_their_neighbours():
    values = torch.ones(9, 1)
    values[4] = 100.0
    weights = torch.ones(9)
    weights[4] = 0
    assert torch.allclose(gaussian_smooth(values, 1.5, weights)[[3, 5]], torch.ones(2, 1))


def test_smooth_fit_returns_valid_rotations_and_keeps_missing_frames():
    t = 12
    g = torch.Generator().manual_seed(1)
    yaw = 0.3 + 0.05 * torch.randn(t, generator=g)
    cam = Camera.from_euler(yaw, torch.zeros(t), torch.zeros(t), scale=torch.ones(t), translation=torch.zeros(t, 2))
    found = torch.ones(t, dtype=torch.bool)
    found[3] = False
    fit = FaceFit(torch.zeros(t, 2), torch.randn(t, 4, generator=g), cam, (64, 64), found=found)
    out = smooth_fit(fit, 2.0)  # Camera validation checks orthonormality
    assert torch.equal(out.alpha_exp[3], fit.alpha_exp[3])
    assert out.camera.euler()[:, 0][found].std() < yaw[found].std()


def test_a_steady_motion_is_kept_at_the_ends_and_beside_missing_frames():
    track = torch.arange(16, dtype=torch.float64)[:, None] * 13.0
    weights = torch.ones(16, dtype=torch.float64)
    weights[5:8] = 0
    smoothed = gaussian_smooth(track, 2.0, weights, linear=True)
    kept = weights > 0
    assert torch.allclose(smoothed[kept], track[kept], atol=1e-9)
    noisy = track + torch.randn(16, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    g = torch.exp(-0.5 * (torch.arange(-6, 7, dtype=torch.float64) / 2.0) ** 2)
    plain = torch.stack([(g * noisy[t - 6 : t + 7, 0]).sum() / g.sum() for t in range(6, 10)])
    assert torch.allclose(gaussian_smooth(noisy, 2.0, linear=True)[6:10, 0], plain, atol=1e-9)  # a full window: the filter
    assert torch.allclose(gaussian_smooth(noisy, 2.0)[6:10, 0], plain, atol=1e-9)
    assert not torch.allclose(gaussian_smooth(track, 2.0, weights)[kept], track[kept], atol=1.0)  # the filter lags


def test_missed_frames_are_bridged_between_their_neighbours_and_held_at_the_ends():
    t = 10
    yaw = torch.linspace(-0.4, 0.5, t)
    cam = Camera.from_euler(yaw, torch.zeros(t), torch.zeros(t), scale=torch.linspace(1, 2, t), translation=torch.zeros(t, 2))
    found = torch.ones(t, dtype=torch.bool)
    found[[0, 4, 5, 9]] = False
    expression = torch.arange(t, dtype=torch.float32)[:, None].repeat(1, 3)
    fit = FaceFit(torch.zeros(t, 2), torch.where(found[:, None], expression, torch.full_like(expression, 99.0)), cam, (64, 64), found=found)
    out = bridge_gaps(fit)
    assert torch.equal(out.found_mask, found), "which frames were seen is kept"
    assert torch.allclose(out.alpha_exp[1:9], expression[1:9]), "linear between frames 3 and 6"
    assert torch.equal(out.alpha_exp[0], expression[1]) and torch.equal(out.alpha_exp[9], expression[8])
    assert torch.allclose(out.camera.scale[4:6], cam.scale[4:6])
    assert torch.allclose(out.camera.euler()[4:6, 0], yaw[4:6], atol=0.02), "rotations interpolated and orthonormal"
    seen = fit[found]
    assert bridge_gaps(seen) is seen, "nothing to bridge"
