"""The losses of §3.4 on hand-made inputs: hinge signs and values, L_rec on video samples only, L_app, eq. 16."""

from __future__ import annotations

import pytest
import torch

from tfvsdk import InputError
from tfvsdk.losses import (
    LossWeights,
    appearance_loss,
    d_hinge_loss,
    feature_matching_loss,
    g_hinge_loss,
    reconstruction_loss,
    total_generator_loss,
)


def test_d_hinge_loss_on_hand_made_logits():
    real = [torch.tensor([[2.0, 0.5]]), torch.tensor([[-1.0]])]
    fake = [torch.tensor([[-3.0, 0.0]]), torch.tensor([[1.0]])]
    # scale 1: real max(0, 1 − [2, .5]) = [0, .5] → .25; fake max(0, 1 + [−3, 0]) = [0, 1] → .5   → .75
    # scale 2: real max(0, 1 + 1) = 2; fake max(0, 1 + 1) = 2                                     → 4
    assert d_hinge_loss(real, fake).item() == pytest.approx((0.75 + 4.0) / 2)


def test_d_hinge_loss_is_zero_beyond_the_margins_and_positive_when_fooled():
    confident = d_hinge_loss([torch.full((2, 1, 3, 3), 1.5)], [torch.full((2, 1, 3, 3), -1.2)])
    fooled = d_hinge_loss([torch.full((2, 1, 3, 3), -0.5)], [torch.full((2, 1, 3, 3), 0.5)])
    assert confident.item() == 0.0
    assert fooled.item() == pytest.approx(3.0)


def test_g_hinge_loss_is_minus_the_mean_fake_logit_averaged_over_scales():
    fake = [torch.tensor([[1.0, 3.0]], requires_grad=True), torch.tensor([[-4.0]], requires_grad=True)]
    loss = g_hinge_loss(fake)
    assert loss.item() == pytest.approx(-(2.0 + -4.0) / 2)
    loss.backward()
    assert (fake[0].grad < 0).all() and (fake[1].grad < 0).all()  # raising D(Y) lowers the generator's loss


def test_hinge_losses_reject_a_bare_tensor_and_mismatched_scales():
    with pytest.raises(InputError, match="list"):
        g_hinge_loss(torch.zeros(1, 1, 2, 2))
    with pytest.raises(InputError, match="scales"):
        d_hinge_loss([torch.zeros(1)], [torch.zeros(1), torch.zeros(1)])


def test_reconstruction_loss_counts_only_video_samples():
    output = torch.zeros(3, 3, 2, 2)
    target = torch.stack([torch.full((3, 2, 2), v) for v in (0.5, 0.25, 0.75)])
    is_video = torch.tensor([True, False, True])
    assert reconstruction_loss(output, target, is_video).item() == pytest.approx((0.5 + 0.75) / 3)
    none = reconstruction_loss(output.requires_grad_(True), target, torch.zeros(3, dtype=torch.bool))
    assert none.item() == 0.0
    none.backward()
    assert output.grad is not None
    with pytest.raises(InputError, match="bool"):
        reconstruction_loss(output, target, torch.ones(3))


def test_appearance_loss_embeds_y_with_its_own_hint():
    calls = []

    def embedder(frame, hint):
        calls.append((frame, hint))
        return torch.cat([frame, hint], dim=1)

    appearance = torch.rand(1, 3, 4, 4)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 1:3, 1:3] = 1
    hint = appearance * (1 - mask)
    assert appearance_loss(embedder, appearance.clone(), appearance, hint, mask).item() == 0.0
    output = appearance.clone()
    output[..., 0, 0] += 0.5  # outside the face: changes frame and hint
    loss = appearance_loss(embedder, output, appearance, hint, mask)
    assert loss.item() == pytest.approx(2 * 3 * 0.5 / (6 * 16))
    torch.testing.assert_close(calls[-2][1], output * (1 - mask))


def test_total_generator_loss_uses_the_papers_weights():
    one = torch.tensor(1.0)
    assert total_generator_loss(one, one, one, one).item() == pytest.approx(10 + 1 + 10 + 5)
    terms = [torch.tensor(v) for v in (1.0, 2.0, 3.0, 4.0)]
    assert total_generator_loss(*terms).item() == pytest.approx(10 * 1 + 2 + 10 * 3 + 5 * 4)
    weights = LossWeights(adversarial=0, appearance=1, reconstruction=0, temporal=0)
    assert total_generator_loss(*terms, weights=weights).item() == pytest.approx(2.0)
    with pytest.raises(InputError, match="temporal"):
        total_generator_loss(one, one, one, torch.ones(2))
    with pytest.raises(InputError, match="weight"):
        LossWeights(temporal=-1)


def test_feature_matching_is_the_mean_l1_per_layer_summed_over_layers_and_averaged_over_scales():
    torch.manual_seed(0)
    real = [[torch.rand(3, 4, 5, 5), torch.rand(3, 2, 3, 3)], [torch.rand(3, 4, 2, 2), torch.rand(3, 2, 1, 1)]]
    fake = [[torch.rand_like(f) for f in scale] for scale in real]
    video = torch.tensor([True, False, True])
    loss = feature_matching_loss(real, fake, video)
    expected = 0.0
    for b in (0, 2):  # image sample 1 counts 0, the mean is over all 3 samples
        per_scale = []
        for rs, fs in zip(real, fake):
            per_scale.append(sum(float((f[b] - r[b]).abs().sum()) / f[b].numel() for r, f in zip(rs, fs)))
        expected += sum(per_scale) / len(per_scale)
    assert float(loss) == pytest.approx(expected / 3, rel=1e-6)
    assert float(feature_matching_loss(real, real, video)) == 0.0
    assert float(feature_matching_loss(real, fake, torch.zeros(3, dtype=torch.bool))) == 0.0
    with pytest.raises(InputError, match="scales"):
        feature_matching_loss(real, fake[:1], video)
    with pytest.raises(InputError, match="layers"):
        feature_matching_loss(real, [fake[0][:1], fake[1]], video)


def test_feature_matching_through_d_reaches_the_output_and_not_d():
    from tfvsdk.nn import DiscriminatorConfig, MultiScaleDiscriminator

    d = MultiScaleDiscriminator(DiscriminatorConfig(base_channels=8, n_scales=2)).requires_grad_(False)
    x = torch.rand(2, 3, 32, 32)
    y = torch.rand(2, 3, 32, 32, requires_grad=True)
    logits, fake = d(y, features=True)
    with torch.no_grad():
        _, real = d(x, features=True)
    loss = feature_matching_loss(real, fake, torch.tensor([True, True]))
    assert float(loss.detach()) > 0
    loss.backward()
    assert y.grad.abs().sum() > 0
    assert all(p.grad is None for p in d.parameters())
    d.eval()  # in training mode every call moves spectral norm's power iteration
    same = feature_matching_loss(d(x, features=True)[1], d(x, features=True)[1], torch.tensor([True, True]))
    assert float(same) == 0.0
