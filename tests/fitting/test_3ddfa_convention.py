"""3DDFA_V2's conventions: the 62-parameter vector both ways, the crop geometry, and the MobileNet regressor."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

import tfvsdk

from fitting_helpers import bfm_like
from tfvsdk_3ddfa.mobilenet import MobileNetV1, load_checkpoint, regress_params, save_checkpoint
from tfvsdk_3ddfa.params import (
    ParamStats,
    crop_images,
    from_3ddfa_params,
    image_affine,
    roi_box_from_bbox,
    roi_box_from_landmarks,
    to_3ddfa_params,
)


def random_bfm_fit(batch: int, seed: int = 0, landmarks: bool = False) -> tfvsdk.FaceFit:
    g = torch.Generator().manual_seed(seed)
    angles = (torch.rand(3, batch, generator=g, dtype=torch.float64) - 0.5) * math.radians(80)
    fit = tfvsdk.FaceFit(
        torch.randn(batch, 40, generator=g, dtype=torch.float64),
        torch.randn(batch, 10, generator=g, dtype=torch.float64),
        tfvsdk.Camera.from_euler(
            *angles,
            scale=1e-3 * (1 + torch.rand(batch, generator=g, dtype=torch.float64)),
            translation=200 * torch.rand(batch, 2, generator=g, dtype=torch.float64) + 50,
        ),
        (300, 400),
        landmarks=200 * torch.rand(batch, 68, 2, generator=g, dtype=torch.float64) + 50 if landmarks else None,
    )
    return fit


def square_boxes(batch: int) -> torch.Tensor:
    corner = torch.tensor([[40.3, 22.7], [10.0, 80.5], [-20.0, 5.0]], dtype=torch.float64)[:batch]
    side = torch.tensor([151.2, 240.0, 96.0], dtype=torch.float64)[:batch, None]
    return torch.cat([corner, corner + side], 1)


def test_fit_to_62_and_back_is_exact(stats):
    fit = random_bfm_fit(3)
    params, box = to_3ddfa_params(fit, square_boxes(3), stats)
    assert params.shape == (3, 62)
    back = from_3ddfa_params(params, box, fit.image_size, stats)
    for a, b in [(back.alpha_id, fit.alpha_id), (back.alpha_exp, fit.alpha_exp), (back.camera.scale, fit.camera.scale),
                 (back.camera.rotation, fit.camera.rotation), (back.camera.translation, fit.camera.translation)]:
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9)


def test_62_to_fit_and_back_is_exact_and_normalised_form_matches(stats):
    fit = random_bfm_fit(3, seed=4)
    params, box = to_3ddfa_params(fit, square_boxes(3), stats, offset_z=-50.0)
    again, _ = to_3ddfa_params(from_3ddfa_params(params, box, (300, 400), stats), box, stats, offset_z=-50.0)
    assert torch.allclose(again, params, rtol=1e-9, atol=1e-12)
    assert (params[:, 11] == -50.0).all()

    normalised, _ = to_3ddfa_params(fit, box, stats, normalized=True)
    assert torch.allclose(stats.denormalize(normalised), to_3ddfa_params(fit, box, stats)[0])
    back = from_3ddfa_params(normalised, box, (300, 400), stats, normalized=True)
    assert torch.allclose(back.camera.rotation, fit.camera.rotation, atol=1e-9)


def test_projection_matches_3ddfa_v2s_reconstruction_formula(tmp_path, stats):
    """The fit from a 62-vector projects the model where 3DDFA_V2's own formula puts the vertices
    (``R @ (u + w_shp α + w_exp β)`` in Fortran order, plus offset, then its ``similar_transform``)."""
    model, data = bfm_like(tmp_path, stats)
    rng = np.random.default_rng(2)
    rotation = tfvsdk.camera.rotation_from_euler(*torch.tensor([[0.3], [-0.2], [0.1]], dtype=torch.float64))[0].numpy()
    pose = np.concatenate([6e-4 * rotation, [[61.0], [70.0], [-60.0]]], 1)
    shape = rng.normal(0, 1, 40) * stats.id_std.numpy()
    expression = rng.normal(0, 1, 10) * stats.exp_std.numpy()
    params = np.concatenate([pose.reshape(-1), shape, expression]).astype(np.float64)
    roi = np.array([35.0, 12.0, 35.0 + 180.0, 12.0 + 180.0])

    # 3DDFA_V2's formula, written out (TDDFA.recon_vers + similar_transform)
    vertices = (data["u"] + data["w_shp"][:, :40] @ shape[:, None] + data["w_exp"][:, :10] @ expression[:, None])
    pts = pose[:, :3] @ vertices.reshape(3, -1, order="F").astype(np.float64) + pose[:, 3:]
    x = (pts[0] - 1) * (roi[2] - roi[0]) / 120 + roi[0]
    y = (120 - pts[1]) * (roi[3] - roi[1]) / 120 + roi[1]

    fit = from_3ddfa_params(torch.from_numpy(params)[None], torch.from_numpy(roi)[None], (300, 300), stats)
    shape = model.shape(fit.alpha_id.float(), fit.alpha_exp.float()).double()
    ours = fit.camera.project(shape)[0, :, :2].numpy()
    assert np.allclose(ours - 0.5, np.stack([x, y], 1), atol=1e-2 * (roi[2] - roi[0]) / 120)

    affine = image_affine(torch.from_numpy(params)[None], torch.from_numpy(roi)[None])[0].numpy()
    exact = np.c_[vertices.reshape(3, -1, order="F").T, np.ones(shape.shape[1])] @ affine.T
    assert np.allclose(exact - 0.5, np.stack([x, y], 1), atol=1e-9)


def test_crop_boxes_follow_3ddfa_v2():
    box = roi_box_from_bbox(torch.tensor([[100.0, 50.0, 200.0, 170.0]]))
    old = (100 + 120) / 2
    side = math.floor(old * 1.58)
    centre = (150.0, 110.0 + 0.14 * old)
    assert torch.allclose(box, torch.tensor([[centre[0] - side / 2, centre[1] - side / 2, centre[0] + side / 2, centre[1] + side / 2]]))

    landmarks = torch.tensor([[[10.5, 20.5], [50.5, 40.5], [30.5, float("nan")]]])
    box = roi_box_from_landmarks(landmarks)
    side = 40 * math.sqrt(2)
    assert torch.allclose(box, torch.tensor([[30 - side / 2, 30 - side / 2, 30 + side / 2, 30 + side / 2]]))


def test_conversion_checks_its_inputs(stats):
    fit = random_bfm_fit(1)
    with pytest.raises(tfvsdk.InputError, match="square"):
        to_3ddfa_params(fit, torch.tensor([[0.0, 0.0, 120.0, 100.0]], dtype=torch.float64), stats)
    with pytest.raises(tfvsdk.InputError, match="needed when the fit has no landmarks"):
        to_3ddfa_params(fit, None, stats)
    with pytest.raises(tfvsdk.InputError, match="stats"):
        to_3ddfa_params(fit, square_boxes(1), None)
    small = tfvsdk.FaceFit(fit.alpha_id[:, :20], fit.alpha_exp, fit.camera, fit.image_size)
    with pytest.raises(tfvsdk.InputError, match="40 identity and 10 expression"):
        to_3ddfa_params(small, square_boxes(1), stats)
    with_landmarks = random_bfm_fit(2, landmarks=True)
    params, box = to_3ddfa_params(with_landmarks, None, stats)
    assert torch.allclose(box, roi_box_from_landmarks(with_landmarks.landmarks))
    with pytest.raises(tfvsdk.InputError, match=r"params: expected shape \(B, 62\)"):
        from_3ddfa_params(params[:, :60], box, (300, 400), stats)


def test_stats_file_errors(tmp_path):
    bad = tmp_path / "bad.pkl"
    with open(bad, "wb") as f:
        pickle.dump({"mean": np.zeros(62, np.float32)}, f)
    with pytest.raises(tfvsdk.ModelFileError, match="'mean' and 'std'"):
        ParamStats.load(bad)
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(b"cos\nsystem\n(S'echo hacked'\ntR.")
    with pytest.raises(tfvsdk.ModelFileError):
        ParamStats.load(evil)


def test_crop_reproduces_the_pixels_of_an_aligned_box():
    images = torch.rand(1, 3, 200, 180)
    crop = crop_images(images, torch.tensor([[30.0, 40.0, 150.0, 160.0]]))
    expected = images[:, :, 40:160, 30:150].flip(1) * 255
    assert crop.shape == (1, 3, 120, 120)
    assert torch.allclose(crop * 128 + 127.5, expected, atol=0.01)
    outside = crop_images(images, torch.tensor([[-200.0, -200.0, -80.0, -80.0]]))
    assert torch.allclose(outside, torch.full_like(outside, -127.5 / 128))


RELEASE_KEYS_05 = {  # a sample of mb05_120x120.pth's keys (after the "module." prefix) and shapes
    "conv1.weight": (16, 3, 3, 3),
    "bn1.running_mean": (16,),
    "dw2_1.conv_dw.weight": (16, 1, 3, 3),
    "dw2_1.conv_sep.weight": (32, 16, 1, 1),
    "dw5_6.bn_sep.num_batches_tracked": (),
    "dw6.conv_sep.weight": (512, 512, 1, 1),
    "fc_param.weight": (62, 512),
    "fc_param.bias": (62,),
    "fc_lm.weight": (136, 512),
}


def test_mobilenet_has_the_release_layout_and_round_trips_through_its_file_format(tmp_path):
    net = MobileNetV1(width=0.5).eval()
    state = net.state_dict()
    assert len(state) == 166
    for key, shape in RELEASE_KEYS_05.items():
        assert tuple(state[key].shape) == shape, key
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path / "mb05_120x120.pth"
    save_checkpoint(net, path, epoch=62)
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"epoch", "state_dict"}
    assert all(k.startswith("module.") for k in raw["state_dict"])

    loaded = load_checkpoint(path)
    x = torch.randn(2, 3, 120, 120)
    assert loaded.width == 0.5 and not loaded.training
    assert torch.allclose(loaded(x), net(x), atol=1e-5)

    bare = {("fc." + k[9:] if k.startswith("fc_param.") else k): v for k, v in net.state_dict().items() if not k.startswith("fc_lm")}
    torch.save(bare, tmp_path / "bare.pth")
    assert torch.allclose(load_checkpoint(tmp_path / "bare.pth")(x), net(x), atol=1e-5)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(tfvsdk.ModelFileError, match="not found"):
        load_checkpoint(tmp_path / "missing.pth")
    torch.save({"state_dict": {"conv1.weight": torch.zeros(16, 3, 3, 3)}}, tmp_path / "partial.pth")
    with pytest.raises(tfvsdk.ModelFileError, match="does not fit"):
        load_checkpoint(tmp_path / "partial.pth")
    torch.save({"model": torch.nn.Linear(2, 2)}, tmp_path / "object.pth")
    with pytest.raises(tfvsdk.ModelFileError, match="weights-only"):
        load_checkpoint(tmp_path / "object.pth")


def test_regressor_maps_images_to_62_parameters(stats):
    net = MobileNetV1(width=0.25).eval()
    images = torch.rand(2, 3, 160, 200)
    box = roi_box_from_bbox(torch.tensor([[40.0, 30.0, 140.0, 130.0], [20.0, 20.0, 100.0, 100.0]]))
    params = regress_params(net, images, box, stats)
    assert params.shape == (2, 62) and torch.isfinite(params).all()
    fit = from_3ddfa_params(params.double(), box.double(), (160, 200), stats)
    assert fit.alpha_id.shape == (2, 40)
