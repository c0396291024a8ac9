"""E, G and D: shapes at several resolutions and batch sizes, output range, gradients, configuration errors."""

from __future__ import annotations

import attrs
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tfvsdk import InputError
from tfvsdk.losses import appearance_loss, reconstruction_loss
from tfvsdk.nn import DiscriminatorConfig, Embedder, Generator, GeneratorConfig, MultiScaleDiscriminator


def build(config: GeneratorConfig) -> tuple[Embedder, Generator]:
    return Embedder(config.base_channels, config.n_down, config.embed_channels), Generator(config)


def sample(batch: int, h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    appearance = torch.rand(batch, 3, h, w, generator=g)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    mask = ((xx / 0.6) ** 2 + (yy / 0.8) ** 2 <= 1).float().expand(batch, 1, h, w).contiguous()
    rendered = torch.rand(batch, 3, h, w, generator=g) * mask
    return rendered, appearance, appearance * (1 - mask), mask


TINY = GeneratorConfig(base_channels=4, n_down=2, n_res_blocks=1, embed_channels=8)


@settings(max_examples=12, deadline=None)
@given(
    batch=st.integers(1, 3),
    h=st.integers(TINY.min_size, 40),
    w=st.integers(TINY.min_size, 40),
    norm=st.sampled_from(["bsn", "adain"]),
    hint_input=st.booleans(),
    output=st.sampled_from(["residual", "direct"]),
)
def test_generator_output_has_the_input_size_and_lies_in_the_unit_interval(batch, h, w, norm, hint_input, output):
    config = attrs.evolve(TINY, norm=norm, hint_input=hint_input, output=output if hint_input else "direct")
    embedder, generator = build(config)
    rendered, appearance, hint, mask = sample(batch, h, w)
    p = embedder(appearance, hint)
    assert p.shape == (batch, 8, -(-h // 4), -(-w // 4))
    y = generator(rendered, p, mask, hint if hint_input else None)
    assert y.shape == (batch, 3, h, w)
    assert torch.isfinite(y).all() and y.min() >= 0 and y.max() <= 1


@pytest.mark.parametrize("size", [32, 48])
@pytest.mark.parametrize("preset", ["small", "paper"])
def test_presets_build_and_run(preset, size):
    config = GeneratorConfig.preset(preset)
    embedder, generator = build(config)
    rendered, appearance, hint, mask = sample(1, size, size)
    with torch.no_grad():
        y = generator(rendered, embedder(appearance, hint), mask, hint)
    assert y.shape == (1, 3, size, size)


def test_paper_preset_is_johnson_sized():
    config = GeneratorConfig.preset("paper")
    assert (config.base_channels, config.n_down, config.n_res_blocks) == (64, 2, 9)
    generator = Generator(config)
    norms = [m for m in generator.modules() if type(m).__name__ == "BSN"]
    assert len(norms) == 1 + 2 + 2 * 9 + 2
    assert not any(isinstance(m, torch.nn.InstanceNorm2d) for m in generator.modules())


@pytest.mark.parametrize("output", ["residual", "direct"])
@pytest.mark.parametrize("norm", ["bsn", "adain"])
def test_gradients_reach_every_parameter_of_e_and_g(norm, output):
    torch.manual_seed(0)
    config = GeneratorConfig.preset("small", norm=norm, output=output)
    embedder, generator = build(config)
    if output == "residual":  # a trained residual tail: at step 0 it is zero and only the tail gets gradients
        torch.nn.init.normal_(generator.tail.weight, std=0.01)
    rendered, appearance, hint, mask = sample(2, 32, 32)
    y = generator(rendered, embedder(appearance, hint), mask, hint)
    loss = reconstruction_loss(y, appearance, torch.tensor([True, True])) + appearance_loss(
        embedder, y, appearance, hint, mask
    )
    loss.backward()
    for name, parameter in [*embedder.named_parameters("E."), *generator.named_parameters("G.")]:
        assert parameter.grad is not None, f"{name} has no gradient"
        assert parameter.grad.abs().sum() > 0, f"{name} has a zero gradient"


@pytest.mark.parametrize("norm", ["bsn", "adain"])
def test_a_fresh_residual_generator_outputs_the_composite_of_r_and_the_hint(norm):
    torch.manual_seed(0)
    embedder, generator = build(GeneratorConfig.preset("small", norm=norm))
    assert generator.config.output == "residual"
    rendered, appearance, hint, mask = sample(2, 32, 32)
    soft_mask = torch.nn.functional.avg_pool2d(mask, 5, stride=1, padding=2)
    y = generator(rendered, embedder(appearance, hint), soft_mask, hint)
    composite = soft_mask * rendered + (1 - soft_mask) * hint
    torch.testing.assert_close(y, composite, rtol=0, atol=1e-6)


def test_a_direct_generator_does_not_copy_the_composite():
    torch.manual_seed(0)
    embedder, generator = build(GeneratorConfig.preset("small", output="direct"))
    rendered, appearance, hint, mask = sample(1, 32, 32)
    y = generator(rendered, embedder(appearance, hint), mask, hint)
    assert (y - (mask * rendered + (1 - mask) * hint)).abs().mean() > 0.05


@pytest.mark.parametrize("k", [0, 2])
def test_a_masked_residual_leaves_every_pixel_outside_the_dilated_mask_equal_to_the_composite(k):
    torch.manual_seed(0)
    embedder, generator = build(GeneratorConfig.preset("small", residual_dilation=k))
    torch.nn.init.normal_(generator.tail.weight, std=0.05)  # a trained tail: the residual is not zero
    rendered, appearance, hint, mask = sample(2, 32, 32)
    y = generator(rendered, embedder(appearance, hint), mask, hint)
    composite = mask * rendered + (1 - mask) * hint
    # the dilated region by brute force: pixels within Chebyshev distance k of a mask pixel
    inside = mask[0, 0] > 0
    region = torch.zeros_like(inside)
    for dy in range(-k, k + 1):
        for dx in range(-k, k + 1):
            region |= torch.roll(inside, (dy, dx), dims=(0, 1))  # the ellipse is far from the border
    outside = ~region
    assert outside.sum() > 0 and (region & ~inside).sum() >= (k > 0)
    assert torch.equal(y[:, :, outside], composite[:, :, outside])
    assert (y[:, :, region] - composite[:, :, region]).abs().max() > 1e-3
    unlimited = Generator(GeneratorConfig.preset("small"))
    unlimited.load_state_dict(generator.state_dict())
    free = unlimited(rendered, embedder(appearance, hint), mask, hint)
    assert (free[:, :, outside] - composite[:, :, outside]).abs().max() > 1e-3


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_a_leaky_generator_keeps_a_gradient_through_a_layer_whose_units_are_all_negative(activation):
    torch.manual_seed(0)
    embedder, generator = build(GeneratorConfig.preset("small", activation=activation))
    torch.nn.init.normal_(generator.tail.weight, std=0.001)
    with torch.no_grad():  # the dead last layer the CPU recipe ends in with ReLU: every BSN output ≈ −10
        generator.up[-1].norm.alpha_logit.fill_(20.0)
        generator.up[-1].norm.beta_logit.fill_(20.0)
        generator.up[-1].norm.project.weight.mul_(1e-3)
        generator.up[-1].norm.project.bias.fill_(-10.0)
    rendered, appearance, hint, mask = sample(2, 32, 32)
    y = generator(rendered, embedder(appearance, hint), mask, hint)
    y.sum().backward()
    below = generator.head.conv.weight.grad
    if activation == "relu":
        assert below is None or below.abs().sum() == 0
    else:
        assert below.abs().sum() > 0


@pytest.mark.parametrize("skips", [False, True])
def test_skips_carry_full_resolution_features_past_the_bottleneck(skips):
    torch.manual_seed(0)
    embedder, generator = build(GeneratorConfig.preset("small", skips=skips, output="direct"))
    generator.blocks[-1].register_forward_hook(lambda module, inputs, output: torch.zeros_like(output))
    rendered, appearance, hint, mask = sample(1, 32, 32)
    rendered.requires_grad_(True)
    y = generator(rendered, embedder(appearance, hint).detach(), mask, hint)
    y[0, :, 16, 16].sum().backward()
    if not skips:
        assert rendered.grad is None  # everything passes through the (silenced) bottleneck
        return
    reach = rendered.grad.abs().sum(dim=(0, 1))
    window = reach[9:24, 9:24].sum()  # head 7×7, last decoder layer 3×3, tail 7×7 (BSN's statistics reach further)
    assert window > 0.9 * reach.sum()


def test_the_residual_region_is_checked():
    with pytest.raises(InputError, match="residual_dilation"):
        GeneratorConfig(residual_dilation=-1)
    with pytest.raises(InputError, match="residual_dilation"):
        GeneratorConfig(hint_input=False, output="direct", residual_dilation=2)
    assert GeneratorConfig().residual_dilation is None
    with pytest.raises(InputError, match="activation"):
        GeneratorConfig(activation="gelu")


def test_the_residual_output_needs_the_hint_input():
    with pytest.raises(InputError, match="hint_input"):
        GeneratorConfig(hint_input=False)
    with pytest.raises(InputError, match="output"):
        GeneratorConfig(output="sigmoid")
    assert GeneratorConfig(hint_input=False, output="direct").output == "direct"


def test_bsn_sees_the_face_mask_but_the_adain_ablation_does_not_need_it():
    torch.manual_seed(0)
    rendered, appearance, hint, mask = sample(1, 32, 32)
    other_mask = (torch.rand_like(mask) > 0.5).float()
    for norm, changes in (("bsn", True), ("adain", False)):
        config = GeneratorConfig.preset("small", norm=norm, hint_input=False, output="direct")
        embedder, generator = build(config)
        p = embedder(appearance, hint)
        with torch.no_grad():
            a = generator(rendered, p, mask)
            # the mask is also an input channel: isolate the normalisation by zeroing the head's mask weights
            generator.head.conv.weight[:, 3] = 0
            b = generator(rendered, p, mask)
            c = generator(rendered, p, other_mask)
        assert not torch.equal(a, b)
        assert (not torch.allclose(b, c, atol=1e-6)) == changes


def test_generator_rejects_bad_inputs_with_input_errors():
    config = GeneratorConfig.preset("small")
    embedder, generator = build(config)
    rendered, appearance, hint, mask = sample(1, 32, 32)
    p = embedder(appearance, hint)
    with pytest.raises(InputError, match="hint"):
        generator(rendered, p, mask)
    with pytest.raises(InputError, match="mask"):
        generator(rendered, p, mask[..., :16], hint)
    with pytest.raises(InputError, match="p"):
        generator(rendered, p[:, :5], mask, hint)
    with pytest.raises(InputError, match="≥ 5"):
        small = [t[..., :4, :4] for t in (rendered, mask, hint)]
        generator(small[0], p, small[1], small[2])


def test_config_validation_and_presets():
    with pytest.raises(InputError, match="preset"):
        GeneratorConfig.preset("huge")
    with pytest.raises(InputError, match="norm"):
        GeneratorConfig(norm="instance")
    with pytest.raises(InputError, match="n_res_blocks"):
        GeneratorConfig(n_res_blocks=0)
    assert GeneratorConfig.preset("small", norm="adain").norm == "adain"


@pytest.mark.parametrize("scales", [1, 2, 3])
def test_discriminator_returns_one_patch_logit_map_per_scale(scales):
    d = MultiScaleDiscriminator(DiscriminatorConfig(base_channels=8, n_scales=scales))
    logits = d(torch.rand(2, 3, 64, 48))

    def patch_grid(n: int, scale: int) -> int:
        for _ in range(scale):
            n = -(-n // 2)  # 3×3 average pooling, stride 2, padding 1
        for _ in range(3):
            n = n // 2 + 1  # 4×4 stride-2 convolutions, padding 2
        return n + 2  # two 4×4 stride-1 convolutions, padding 2

    assert [tuple(lg.shape) for lg in logits] == [(2, 1, patch_grid(64, k), patch_grid(48, k)) for k in range(scales)]


@pytest.mark.parametrize("norm", ["spectral", "instance"])
def test_discriminator_features_are_its_leaky_relu_outputs_and_leave_the_logits_unchanged(norm):
    d = MultiScaleDiscriminator(DiscriminatorConfig(base_channels=8, n_scales=2, n_layers=3, norm=norm)).eval()
    image = torch.rand(2, 3, 32, 32)
    plain = d(image)
    logits, feats = d(image, features=True)
    assert all(torch.equal(a, b) for a, b in zip(plain, logits))
    assert [len(f) for f in feats] == [4, 4]  # n_layers + 1 LeakyReLUs per scale
    assert [f.shape[1] for f in feats[0]] == [8, 16, 32, 64]
    # the last feature map is what the final convolution reads
    assert torch.allclose(d.scales[0].layers[-1](feats[0][-1]), logits[0])


def test_discriminator_gradients_reach_its_parameters_and_the_image():
    d = MultiScaleDiscriminator(DiscriminatorConfig(base_channels=8, n_scales=2))
    image = torch.rand(1, 3, 32, 32, requires_grad=True)
    sum(lg.mean() for lg in d(image)).backward()
    assert image.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters())


def test_spectral_discriminator_has_unit_spectral_norm_weights_and_instance_one_has_norm_layers():
    spectral = MultiScaleDiscriminator(DiscriminatorConfig(base_channels=8, n_scales=1))
    spectral(torch.rand(2, 3, 32, 32))  # power iteration updates u, v in training mode
    convs = [m for m in spectral.modules() if isinstance(m, torch.nn.Conv2d)]
    top = torch.linalg.matrix_norm(convs[1].weight.flatten(1), ord=2)
    assert abs(float(top) - 1) < 0.1
    assert not any(isinstance(m, torch.nn.InstanceNorm2d) for m in spectral.modules())
    instance = MultiScaleDiscriminator(DiscriminatorConfig(base_channels=8, n_scales=1, norm="instance"))
    assert sum(isinstance(m, torch.nn.InstanceNorm2d) for m in instance.modules()) == 3
    with pytest.raises(InputError, match="norm"):
        DiscriminatorConfig(norm="batch")
