"""AdaIN (eq. 5) and BSN (eq. 4) against an independent float64 evaluation, their limits and their parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tfvsdk import InputError
from tfvsdk.nn import BSN, AdaIN, masked_mean_std
from tfvsdk.nn.adain import adain
from tfvsdk.nn.bsn import bsn

EPS = 1e-5


def reference_bsn(x, q, h, alpha, beta, eps=EPS):
    """Eq. 4–5 pixel by pixel in numpy float64: each T over its masked region, result kept on that region."""
    x, q, h = (np.asarray(t, np.float64) for t in (x, q, h))
    out = np.zeros_like(x)
    for b in range(x.shape[0]):
        face, rest = h[b, 0], 1.0 - h[b, 0]
        for c in range(x.shape[1]):

            def stats(values, weights):
                if weights.sum() <= 1e-6:
                    return None
                mean = np.average(values, weights=weights)
                return mean, np.sqrt(np.average((values - mean) ** 2, weights=weights) + eps)

            def transfer(content_w, style_w):
                content = stats(x[b, c], content_w) or (0.0, np.sqrt(eps))
                style = stats(q[b, c], style_w) or content
                return np.array(
                    [
                        [content_w[i, j] * (style[1] * (x[b, c, i, j] - content[0]) / content[1] + style[0])
                         for j in range(x.shape[3])]
                        for i in range(x.shape[2])
                    ]
                )

            a, be = float(alpha[c]), float(beta[c])
            out[b, c] = (
                a * transfer(face, rest)
                + be * transfer(rest, face)
                + (1 - a) * x[b, c] * face
                + (1 - be) * x[b, c] * rest
            )
    return out


def random_inputs(seed, b=2, c=3, h=7, w=9, soft=True):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, c, h, w, generator=g, dtype=torch.float64) * 2 + 1
    q = torch.randn(b, c, h, w, generator=g, dtype=torch.float64) * 0.5 - 2
    mask = (torch.rand(b, 1, h, w, generator=g, dtype=torch.float64) > 0.4).double()
    if soft:
        mask = mask * torch.rand(b, 1, h, w, generator=g, dtype=torch.float64)
    alpha = torch.rand(c, generator=g, dtype=torch.float64)
    beta = torch.rand(c, generator=g, dtype=torch.float64)
    return x, q, mask, alpha, beta


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("soft", [False, True])
def test_bsn_equals_a_direct_evaluation_of_eq_4_and_5(seed, soft):
    x, q, h, alpha, beta = random_inputs(seed, soft=soft)
    ours = bsn(x, q, h, alpha, beta, EPS).numpy()
    np.testing.assert_allclose(ours, reference_bsn(x, q, h, alpha, beta), rtol=1e-10, atol=1e-10)


def test_bsn_with_an_empty_region_in_one_sample_equals_the_reference():
    x, q, h, alpha, beta = random_inputs(7, soft=False)
    h[0] = 0.0
    h[1, :, :3] = 1.0
    np.testing.assert_allclose(bsn(x, q, h, alpha, beta, EPS).numpy(), reference_bsn(x, q, h, alpha, beta), atol=1e-10)


def test_masked_statistics_are_weighted_by_the_mask():
    x = torch.tensor([[[[1.0, 2.0, 3.0, 100.0]]]])
    mask = torch.tensor([[[[1.0, 1.0, 0.5, 0.0]]]])
    mean, std, nonempty = masked_mean_std(x, mask, eps=0.0)
    expected_mean = (1 + 2 + 1.5) / 2.5
    expected_var = ((1 - expected_mean) ** 2 + (2 - expected_mean) ** 2 + 0.5 * (3 - expected_mean) ** 2) / 2.5
    assert mean.item() == pytest.approx(expected_mean)
    assert std.item() == pytest.approx(expected_var**0.5)
    assert nonempty.item()


def test_alpha_beta_zero_is_the_identity():
    x, q, h, _, _ = random_inputs(1)
    zero = torch.zeros(x.shape[1], dtype=x.dtype)
    torch.testing.assert_close(bsn(x, q, h, zero, zero), x)


@pytest.mark.parametrize("fill", [0.0, 1.0])
def test_a_degenerate_mask_leaves_nothing_to_transfer(fill):
    """H ≡ 1 (or ≡ 0): one style region is empty, T keeps the content, so BSN = X whatever α and β."""
    x, q, _, alpha, beta = random_inputs(2)
    h = torch.full_like(x[:, :1], fill)
    torch.testing.assert_close(bsn(x, q, h, alpha, beta), x)
    torch.testing.assert_close(adain(x, q, content_mask=torch.ones_like(h), style_mask=torch.zeros_like(h)), x)


def weighted_mean_std(t, w):
    mean = (t * w).sum(dim=(2, 3)) / w.sum(dim=(2, 3))
    var = ((t - mean[..., None, None]) ** 2 * w).sum(dim=(2, 3)) / w.sum(dim=(2, 3))
    return mean, var.sqrt()


def test_full_transfer_gives_each_region_the_other_regions_style():
    """Binary H, α = β = 1: the face takes Q's statistics outside the face and vice versa."""
    x, q, h, _, _ = random_inputs(3, soft=False)
    one = torch.ones(x.shape[1], dtype=x.dtype)
    out = bsn(x, q, h, one, one, eps=0.0)
    for region, other in ((h, 1 - h), (1 - h, h)):
        got = weighted_mean_std(out, region)
        want = weighted_mean_std(q, other)
        torch.testing.assert_close(got[0], want[0])
        torch.testing.assert_close(got[1], want[1])


def test_alpha_only_changes_the_face_and_beta_only_the_rest():
    x, q, h, _, _ = random_inputs(4, soft=False)
    c = x.shape[1]
    face_only = bsn(x, q, h, torch.ones(c, dtype=x.dtype), torch.zeros(c, dtype=x.dtype))
    torch.testing.assert_close(face_only * (1 - h), x * (1 - h))
    assert not torch.allclose(face_only * h, x * h)
    rest_only = bsn(x, q, h, torch.zeros(c, dtype=x.dtype), torch.ones(c, dtype=x.dtype))
    torch.testing.assert_close(rest_only * h, x * h)


def test_plain_adain_gives_the_style_statistics():
    x, q, _, _, _ = random_inputs(5)
    out = AdaIN(eps=0.0)(x, q[..., :4, :5])
    torch.testing.assert_close(out.mean(dim=(2, 3)), q[..., :4, :5].mean(dim=(2, 3)))
    torch.testing.assert_close(out.std(dim=(2, 3), unbiased=False), q[..., :4, :5].std(dim=(2, 3), unbiased=False))


def test_half_precision_features_get_float32_statistics():
    x, q, h, _, _ = random_inputs(8, h=64, w=64)
    x, q = (x * 0.05 + 3.0).bfloat16(), q.bfloat16()  # a large mean over a small spread
    exact = adain(x.double(), q.double(), content_mask=h, style_mask=1 - h)
    half = adain(x, q, content_mask=h.float(), style_mask=(1 - h).float())
    assert half.dtype == torch.bfloat16
    # only the output's rounding to bfloat16 remains (statistics in bfloat16 would be off by ~0.04)
    torch.testing.assert_close(half.double(), exact, atol=0.015, rtol=0)


def test_constant_regions_and_empty_masks_stay_finite_with_finite_gradients():
    x = torch.ones(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    q = torch.zeros(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    h = torch.zeros(2, 1, 6, 6, dtype=torch.float64)
    h[0, :, :3] = 1.0
    alpha = torch.full((3,), 0.8, dtype=torch.float64, requires_grad=True)
    beta = torch.full((3,), 0.1, dtype=torch.float64, requires_grad=True)
    out = bsn(x, q, h, alpha, beta)
    out.sum().backward()
    assert torch.isfinite(out).all()
    assert all(torch.isfinite(t.grad).all() for t in (x, q, alpha, beta))


def test_bsn_is_differentiable_in_all_inputs():
    x, q, h, alpha, beta = (t[:1, :2, :4, :5] if t.dim() == 4 else t[:2] for t in random_inputs(6))
    inputs = [t.clone().requires_grad_(True) for t in (x, q, h, alpha, beta)]
    assert torch.autograd.gradcheck(lambda *a: bsn(*a, EPS), inputs)


def test_the_layer_resizes_the_embedding_and_the_mask_to_the_features():
    """The module computes Q = project(P) upsampled and H = M̂ area-downsampled, then eq. 4."""
    torch.manual_seed(0)
    layer = BSN(4, embed_channels=6).double()
    x = torch.randn(2, 4, 8, 12, dtype=torch.float64)
    p = torch.randn(2, 6, 2, 3, dtype=torch.float64)
    mask = (torch.rand(2, 1, 32, 48, dtype=torch.float64) > 0.5).double()
    upsampled = F.interpolate(p, size=(8, 12), mode="bilinear", align_corners=False)
    q = F.conv2d(upsampled, layer.project.weight, layer.project.bias)
    h = F.avg_pool2d(mask, 4)
    expected = reference_bsn(x, q.detach(), h, layer.alpha.detach(), layer.beta.detach())
    np.testing.assert_allclose(layer(x, p, mask).detach().numpy(), expected, atol=1e-10)


def test_alpha_and_beta_start_at_the_papers_values_and_stay_in_the_unit_interval():
    torch.manual_seed(0)
    layer = BSN(8, embed_channels=4)
    torch.testing.assert_close(layer.alpha, torch.full((8,), 0.8))
    torch.testing.assert_close(layer.beta, torch.full((8,), 0.1))
    x, p = torch.randn(2, 8, 16, 16), torch.randn(2, 4, 4, 4)
    mask = (torch.rand(2, 1, 16, 16) > 0.5).float()
    target = torch.randn(2, 8, 16, 16) * 5
    optimiser = torch.optim.Adam(layer.parameters(), lr=10.0)
    for _ in range(20):
        optimiser.zero_grad()
        F.mse_loss(layer(x, p, mask), target).backward()
        optimiser.step()
        assert 0 <= layer.alpha.min() and layer.alpha.max() <= 1
        assert 0 <= layer.beta.min() and layer.beta.max() <= 1
    assert (layer.alpha - 0.8).abs().max() > 0.05 and (layer.beta - 0.1).abs().max() > 0.05


def test_the_adain_ablation_ignores_the_mask_and_has_no_alpha_beta():
    layer = BSN(4, embed_channels=4, kind="adain")
    assert not any("logit" in name for name, _ in layer.named_parameters())
    x, p = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 2, 2)
    torch.testing.assert_close(layer(x, p, torch.zeros(1, 1, 8, 8)), layer(x, p, torch.ones(1, 1, 8, 8)))


def test_an_unknown_norm_kind_is_an_input_error():
    with pytest.raises(InputError, match="kind"):
        BSN(4, embed_channels=4, kind="instance")
