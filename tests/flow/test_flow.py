"""flow3d (eq. 9–14), warp, temporal_loss (eq. 15) and temporal_error (E_tmp)."""

from __future__ import annotations

import pytest
import torch

import tfvsdk
from tfvsdk.errors import InputError
from tfvsdk.flow import flow3d, temporal_error, temporal_loss, warp

SIZE = (256, 256)


def camera(verts: torch.Tensor, yaw: float, pitch: float, roll: float, tx: float, ty: float) -> tfvsdk.Camera:
    scale = 160.0 / float(verts[:, 0].max() - verts[:, 0].min())
    return tfvsdk.Camera.from_euler(
        torch.tensor([yaw]), torch.tensor([pitch]), torch.tensor([roll]), scale=torch.tensor([scale]), translation=torch.tensor([[tx, ty]])
    )


def smooth_texture(size: int = 128) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    return torch.stack([0.5 + 0.4 * torch.sin(6 * xx), 0.5 + 0.4 * torch.cos(5 * yy), 0.5 + 0.3 * torch.sin(4 * (xx + yy))])[None]


@pytest.fixture(scope="module")
def rigid_pair(face_mesh):
    """Frames t−1 and t of a face under a rigid rotation + translation, rendered with a texture."""
    verts, tri, uv, _ = face_mesh
    cam_prev = camera(verts, 0.10, 0.05, 0.00, 126.0, 130.0)
    cam_t = camera(verts, 0.16, -0.02, 0.04, 130.0, 127.5)
    renderer = tfvsdk.create("renderer", "raster")
    tex = smooth_texture()
    r_prev = renderer.render(cam_prev.project(verts[None]), tri, SIZE, uv=uv, texture=tex)
    r_t = renderer.render(cam_t.project(verts[None]), tri, SIZE, uv=uv, texture=tex)
    return r_t, r_prev, tri, cam_t, cam_prev


def test_rigid_motion_flow_equals_the_projected_displacement(rigid_pair, face_mesh):
    r_t, r_prev, tri, cam_t, cam_prev = rigid_pair
    flow, visible = flow3d(r_t, r_prev, tri)
    vis = visible[0, 0] > 0
    covered = r_t.mask[0, 0] > 0
    assert vis.sum() > 0.9 * covered.sum(), "small rigid motion: nearly every face pixel stays visible"
    assert not vis[~covered].any()
    # analytic: the surface point at pixel centre q (depth Z^t) back to model space, then through cam_prev
    ys, xs = torch.meshgrid(torch.arange(256.0) + 0.5, torch.arange(256.0) + 0.5, indexing="ij")
    screen_t = torch.stack([xs, ys, r_t.depth[0, 0]], -1)[vis].double()

    def affine(cam):
        flip = torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)
        return (cam.scale.double() * flip[:, None] * cam.rotation[0].double()), torch.cat([cam.translation[0].double(), torch.zeros(1, dtype=torch.float64)])

    a_t, b_t = affine(cam_t)
    a_p, b_p = affine(cam_prev)
    model = torch.linalg.solve(a_t, (screen_t - b_t).T).T
    screen_prev = model @ a_p.T + b_p
    expected = screen_t[:, :2] - screen_prev[:, :2]
    got = flow[0].permute(1, 2, 0)[vis].double()
    assert (got - expected).abs().max() < 0.01
    assert (flow[0].permute(1, 2, 0)[~vis] == 0).all()


def test_a_triangle_moving_behind_another_is_marked_invisible():
    """A far quad slides right by 6 px behind a static near triangle: the pixels of the quad that the
    triangle hid in frame t−1 are invisible in S^{t−1}; every other covered pixel is visible."""
    quad = torch.tensor([[20.0, 20.0, 0.0], [100.0, 20.0, 0.0], [100.0, 100.0, 0.0], [20.0, 100.0, 0.0]])
    front = torch.tensor([[40.0, 30.0, 10.0], [70.0, 30.0, 10.0], [55.0, 80.0, 10.0]])
    shift = torch.tensor([6.0, 0.0, 0.0])
    tri = torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6]])
    renderer = tfvsdk.create("renderer", "raster")
    r_prev = renderer.render(torch.cat([quad, front])[None], tri, (120, 120))
    r_t = renderer.render(torch.cat([quad + shift, front])[None], tri, (120, 120))
    flow, visible = flow3d(r_t, r_prev, tri)
    ys, xs = torch.meshgrid(torch.arange(120.0) + 0.5, torch.arange(120.0) + 0.5, indexing="ij")
    on_quad = r_t.triangle_id[0] <= 1
    on_quad &= r_t.triangle_id[0] >= 0
    # was the quad's point (q − 6 px) under the front triangle in frame t−1?
    hidden_before = r_prev.triangle_id[0, ys.long(), (xs - 6).clamp(min=0).long()] == 2
    near_edge = torch.zeros_like(hidden_before)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            near_edge |= hidden_before.roll((dy, dx), (0, 1)) != hidden_before
    expected = ~(on_quad & hidden_before)
    vis = visible[0, 0] > 0
    covered = r_t.mask[0, 0] > 0
    assert (on_quad & hidden_before & ~near_edge).sum() > 100
    assert torch.equal(vis[covered & ~near_edge], expected[covered & ~near_edge])
    assert torch.allclose(flow[0, :, vis & on_quad], torch.tensor([[6.0], [0.0]]), atol=1e-4)


def test_warp_samples_the_previous_frame_at_q_minus_flow():
    ys, xs = torch.meshgrid(torch.arange(20.0) + 0.5, torch.arange(30.0) + 0.5, indexing="ij")
    image = torch.stack([0.01 * xs + 0.02 * ys, 0.5 - 0.01 * ys])[None].double()  # linear: bilinear is exact
    flow = torch.zeros(1, 2, 20, 30, dtype=torch.float64)
    flow[:, 0], flow[:, 1] = 2.5, -1.25
    out = warp(image, flow)
    x, y = xs - 2.5, ys + 1.25
    expected = torch.stack([0.01 * x + 0.02 * y, 0.5 - 0.01 * y])[None].double()
    inner = (x > 0.5) & (x < 29.5) & (y > 0.5) & (y < 19.5)
    assert torch.allclose(out[..., inner], expected[..., inner])


def inner(visible: torch.Tensor) -> torch.Tensor:
    """Visibility minus its one-pixel rim: at the outline a bilinear sample of frame t−1 mixes in the black
    background of these renders, an error of the renders rather than of the flow."""
    return -torch.nn.functional.max_pool2d(-visible, 3, 1, 1)


def test_temporal_loss_is_zero_for_a_consistent_pair_and_grows_with_flicker(rigid_pair):
    r_t, r_prev, tri, _, _ = rigid_pair
    flow, visible = flow3d(r_t, r_prev, tri)
    y_prev = r_prev.image
    assert temporal_loss(warp(y_prev, flow), y_prev, flow, visible, eps=0.0) == 0
    consistent = temporal_loss(r_t.image, y_prev, flow, inner(visible))
    assert consistent < 3e-3, "a texture fixed to a rigidly moving surface is temporally consistent"
    losses = [float(temporal_loss(r_t.image + d * r_t.mask, y_prev, flow, inner(visible))) for d in (0.02, 0.05, 0.1)]
    assert losses[0] < losses[1] < losses[2]
    assert abs(losses[2] - 0.1) < 3e-3  # a flicker of +0.1 on the face: RMS ≈ 0.1


def test_temporal_loss_of_one_pair_is_the_temporal_error_over_255(rigid_pair):
    r_t, r_prev, tri, _, _ = rigid_pair
    flow, visible = flow3d(r_t, r_prev, tri)
    y_t = r_t.image + 0.05 * r_t.mask
    loss = temporal_loss(y_t, r_prev.image, flow, visible, eps=0.0)
    error = temporal_error(torch.cat([r_prev.image, y_t]), flow, visible)
    assert torch.allclose(255 * loss, error)


def test_temporal_loss_has_gradients():
    y_t = torch.rand(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    y_prev = torch.rand(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    flow = (torch.rand(1, 2, 8, 8, dtype=torch.float64) * 2).requires_grad_(True)
    visible = (torch.rand(1, 1, 8, 8) > 0.3).double()
    assert torch.autograd.gradcheck(lambda a, b, f: temporal_loss(a, b, f, visible), (y_t, y_prev, flow))


def test_temporal_error_is_rms_flicker_in_0_255_units(rigid_pair):
    r_t, r_prev, tri, _, _ = rigid_pair
    flow, visible = flow3d(r_t, r_prev, tri)
    mask = inner(visible)
    frames = torch.cat([r_prev.image, r_t.image])
    assert temporal_error(frames, flow, mask) < 1.0
    flicker = torch.cat([r_prev.image, r_t.image + 0.04 * r_t.mask])
    assert abs(float(temporal_error(flicker, flow, mask)) - 0.04 * 255) < 0.2
    # a still video whose brightness steps by +0.1 then −0.2: RMS of 25.5 and 51 over equal masks
    still = torch.rand(1, 3, 16, 16) * 0.5 + 0.25
    video = still + torch.tensor([0.0, 0.1, -0.1])[:, None, None, None]
    e = temporal_error(video, torch.zeros(2, 2, 16, 16), torch.ones(2, 1, 16, 16))
    assert torch.isclose(e, torch.tensor((0.5 * (25.5**2 + 51.0**2)) ** 0.5), atol=1e-2)


def test_batched_flow_matches_per_item(rigid_pair):
    r_t, r_prev, tri, _, _ = rigid_pair

    def stack(r: tfvsdk.Rendering) -> tfvsdk.Rendering:
        return tfvsdk.Rendering(*(torch.cat([getattr(r, f), getattr(r, f)]) for f in ("image", "mask", "depth", "triangle_id", "barycentrics", "vertices")))

    flow2, visible2 = flow3d(stack(r_t), stack(r_prev), tri)
    flow1, visible1 = flow3d(r_t, r_prev, tri)
    assert torch.equal(flow2[1:], flow1) and torch.equal(visible2[:1], visible1)


def test_bad_inputs_raise_input_error(rigid_pair):
    r_t, r_prev, tri, _, _ = rigid_pair
    small = tfvsdk.create("renderer", "raster").render(r_prev.vertices, tri, (64, 64))
    with pytest.raises(InputError, match="image size"):
        flow3d(r_t, small, tri)
    with pytest.raises(InputError, match="frames"):
        temporal_error(torch.zeros(1, 3, 4, 4), torch.zeros(0, 2, 4, 4), torch.zeros(0, 1, 4, 4))
