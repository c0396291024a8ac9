"""The losses of the deep blending network (paper §3.4, eq. 6–8 and 16).

Norms: ‖·‖₁ of eq. 6–7 is the mean absolute error over elements (so the weights of eq. 16 do not depend on
the image size). The adversarial loss of eq. 8 uses the hinge loss (ref. [29]) in place of the log terms,
averaged over the K scales of the multi-scale discriminator. L_tmp (eq. 15) is
:func:`tfvsdk.flow.temporal_loss`; :func:`total_generator_loss` takes its value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
import torch
import torch.nn.functional as F

from .checks import check_shape, check_tensor
from .errors import InputError


def appearance_loss(
    embedder: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    output: torch.Tensor,
    appearance: torch.Tensor,
    hint: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    """L_app = ‖E(Y) − E(X_p)‖₁ (eq. 6).

    E takes a frame and its hint (§3.3); the paper writes E(Y) with one argument. Here each frame is
    embedded with its own hint formed by the hint rule of §3.2: E(Y, Y(1 − M̂)) against E(X_p, M). (Giving
    both the same M would let E satisfy the loss by reading M alone.)

    Args:
        embedder: the appearance embedder E (:class:`tfvsdk.nn.Embedder`).
        output: (B, 3, H, W) generated frame Y.
        appearance: (B, 3, H, W) appearance frame X_p.
        hint: (B, 3, H, W) appearance hint M given to E with X_p.
        mask: (B, 1, H, W) face mask M̂.

    Returns:
        Scalar mean absolute difference of the two embeddings.
    """
    sizes: dict[str, int] = {}
    check_tensor("output", output, ("B", 3, "H", "W"), sizes, finite=False)
    check_tensor("appearance", appearance, ("B", 3, "H", "W"), sizes, finite=False)
    check_tensor("hint", hint, ("B", 3, "H", "W"), sizes, finite=False)
    check_tensor("mask", mask, ("B", 1, "H", "W"), sizes, finite=False)
    return F.l1_loss(embedder(output, output * (1 - mask)), embedder(appearance, hint))


def reconstruction_loss(output: torch.Tensor, target: torch.Tensor, is_video: torch.Tensor) -> torch.Tensor:
    """L_rec = ‖Y − X_i‖₁ (eq. 7) for video samples, 0 for image samples.

    The per-sample loss (mean absolute error over C·H·W) is set to 0 for image samples, as the paper says,
    and averaged over the whole batch; so a batch of only image samples gives 0 (still differentiable).

    Args:
        output: (B, 3, H, W) generated frame Y.
        target: (B, 3, H, W) ground truth X_i.
        is_video: (B,) bool, True where the sample comes from a video (has a ground truth).

    Returns:
        Scalar loss.
    """
    sizes: dict[str, int] = {}
    check_tensor("output", output, ("B", 3, "H", "W"), sizes, finite=False)
    check_tensor("target", target, ("B", 3, "H", "W"), sizes, finite=False)
    check_shape("is_video", is_video, ("B",), sizes)
    if is_video.dtype != torch.bool:
        raise InputError(f"is_video: expected a bool tensor, got {is_video.dtype}")
    per_sample = (output - target).abs().flatten(1).mean(dim=1)
    return torch.where(is_video.to(output.device), per_sample, torch.zeros_like(per_sample)).mean()


def _check_logits(name: str, logits: Sequence[torch.Tensor]) -> None:
    if isinstance(logits, torch.Tensor) or len(logits) == 0:
        raise InputError(f"{name}: expected a non-empty list of logit maps (one per scale)")


def d_hinge_loss(real_logits: Sequence[torch.Tensor], fake_logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """The discriminator's hinge loss over K scales: (1/K) Σ_k E[max(0, 1 − D_k(X))] + E[max(0, 1 + D_k(Y))].

    Eq. 8 with the hinge of ref. [29]; each expectation is the mean over the batch and the patch logits.

    Args:
        real_logits: K logit maps of D on real images X_i (finest first, as D returns them).
        fake_logits: K logit maps of D on generated images Y (detached for the D step).

    Returns:
        Scalar loss D minimises; 0 when every real logit is ≥ 1 and every fake logit ≤ −1.
    """
    _check_logits("real_logits", real_logits)
    _check_logits("fake_logits", fake_logits)
    if len(real_logits) != len(fake_logits):
        raise InputError(f"fake_logits: expected {len(real_logits)} scales like real_logits, got {len(fake_logits)}")
    terms = [F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real_logits, fake_logits)]
    return torch.stack(terms).mean()


def g_hinge_loss(fake_logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """L_adv for the generator with the hinge of ref. [29]: −(1/K) Σ_k E[D_k(Y)].

    Args:
        fake_logits: K logit maps of D on generated images Y (not detached).

    Returns:
        Scalar loss G minimises (negative when D believes the fakes).
    """
    _check_logits("fake_logits", fake_logits)
    return -torch.stack([f.mean() for f in fake_logits]).mean()


def r1_penalty(real_logits: Sequence[torch.Tensor], real_images: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): E‖∇_X D(X)‖² on real images, D summed over its K scales' mean logits.

    Args:
        real_logits: K logit maps of D on ``real_images`` (computed with ``real_images.requires_grad``).
        real_images: (B, C, H, W) the real images D judged.

    Returns:
        Scalar mean over the batch of the squared gradient norm (differentiable w.r.t. D's parameters).
    """
    _check_logits("real_logits", real_logits)
    if not real_images.requires_grad:
        raise InputError("real_images: expected a tensor with requires_grad=True (the input of real_logits)")
    score = torch.stack([r.flatten(1).mean(1) for r in real_logits]).mean(0).sum()
    (grad,) = torch.autograd.grad(score, real_images, create_graph=True)
    return grad.square().flatten(1).sum(1).mean()


def feature_matching_loss(
    real_features: Sequence[Sequence[torch.Tensor]], fake_features: Sequence[Sequence[torch.Tensor]], is_video: torch.Tensor
) -> torch.Tensor:
    """Discriminator feature matching, pix2pixHD's L_FM (Wang et al. 2018, eq. 4), on paired samples.

    L_FM = (1/K) Σ_k Σ_l (1/N_l) ‖D_k^l(X) − D_k^l(Y)‖₁ per sample: for each scale k of D and each of its
    intermediate layers l (N_l the elements of one sample's feature map), the mean absolute difference
    between the features of the ground truth X and of the output Y; summed over layers, averaged over the
    K scales (the 1/K of pix2pixHD's implementation). As :func:`reconstruction_loss`, the per-sample value
    is 0 for image samples (they have no ground truth) and the batch mean is taken. It is a perceptual
    loss without a pretrained network: D's features are learned on the training data. Not in the paper's
    eq. 16 (``loss.feature_matching``, default 0).

    Args:
        real_features: D's features of X, ``[scale][layer]`` (B, C_l, h_l, w_l), as
            ``MultiScaleDiscriminator(x, features=True)[1]`` returns them; detach them (the target).
        fake_features: the same of Y (not detached: the gradient reaches G through D, whose parameters
            should not require gradients in G's step).
        is_video: (B,) bool, True where the sample has a ground truth.

    Returns:
        Scalar loss; 0 for identical features.
    """
    if len(real_features) != len(fake_features) or not real_features:
        raise InputError(f"fake_features: expected {len(real_features)} scales like real_features (≥ 1), got {len(fake_features)}")
    if is_video.dtype != torch.bool:
        raise InputError(f"is_video: expected a bool tensor, got {is_video.dtype}")
    per_scale = []
    for k, (real, fake) in enumerate(zip(real_features, fake_features)):
        if len(real) != len(fake) or not real:
            raise InputError(f"fake_features[{k}]: expected {len(real)} layers like real_features[{k}] (≥ 1), got {len(fake)}")
        layers = []
        for r, f in zip(real, fake):
            if r.shape != f.shape or r.shape[0] != is_video.shape[0]:
                raise InputError(f"fake_features[{k}]: a map of shape {tuple(f.shape)} against {tuple(r.shape)} (batch {is_video.shape[0]})")
            layers.append((f - r).abs().flatten(1).mean(1))
        per_scale.append(torch.stack(layers).sum(0))
    per_sample = torch.stack(per_scale).mean(0)
    return torch.where(is_video.to(per_sample.device), per_sample, torch.zeros_like(per_sample)).mean()


def _non_negative(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not value >= 0:
        raise InputError(f"LossWeights.{attribute.name}: expected a weight ≥ 0, got {value!r}")


@attrs.frozen
class LossWeights:
    """The weights of eq. 16 (paper: α = 10, β = 1, γ = 10, λ = 5)."""

    adversarial: float = attrs.field(default=10.0, converter=float, validator=_non_negative)
    appearance: float = attrs.field(default=1.0, converter=float, validator=_non_negative)
    reconstruction: float = attrs.field(default=10.0, converter=float, validator=_non_negative)
    temporal: float = attrs.field(default=5.0, converter=float, validator=_non_negative)


def total_generator_loss(
    adversarial: torch.Tensor,
    appearance: torch.Tensor,
    reconstruction: torch.Tensor,
    temporal: torch.Tensor,
    weights: LossWeights | None = None,
) -> torch.Tensor:
    """α L_adv + β L_app + γ L_rec + λ L_tmp (eq. 16), the objective G and E minimise.

    Args:
        adversarial: L_adv, e.g. :func:`g_hinge_loss`.
        appearance: L_app, :func:`appearance_loss`.
        reconstruction: L_rec, :func:`reconstruction_loss`.
        temporal: L_tmp, :func:`tfvsdk.flow.temporal_loss`.
        weights: α, β, γ, λ (default 10, 1, 10, 5).

    Returns:
        Scalar total.
    """
    w = weights or LossWeights()
    terms = {"adversarial": adversarial, "appearance": appearance, "reconstruction": reconstruction, "temporal": temporal}
    for name, value in terms.items():
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise InputError(f"{name}: expected a scalar tensor, got {value!r:.60}")
    return (
        w.adversarial * adversarial.reshape(())
        + w.appearance * appearance.reshape(())
        + w.reconstruction * reconstruction.reshape(())
        + w.temporal * temporal.reshape(())
    )
