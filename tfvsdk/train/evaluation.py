"""Held-out self-reenactment evaluation of a blender during and after training (paper §4.1, Table 2).

Protocol: every frame t ≥ 1 of a held-out clip is edited as a video sample of that clip — identity, pose
and expression are frame t itself, the texture is unwrapped from frame t, the hint is X_t(1 − M̂) — which is
the self-driving reenactment the training's video samples use, with X_t its exact ground truth. Any blender
can be evaluated this way (the trained one, or ``classical`` as the baseline on the same clips). Per clip:

* ``face_mae``: mean |Y − X| over the face mask M̂ and the channels, in 0–255 units (the photometric error,
  :func:`tfvsdk.metrics.photometric_error` with the mask);
* ``ssim``: SSIM of Y against X over the whole frame (:func:`tfvsdk.metrics.ssim`: 11×11 Gaussian window,
  σ = 1.5; Wang et al. 2004);
* ``detail``: Y's gradient energy over X's inside M̂ (:func:`tfvsdk.metrics.detail_ratio`; not a metric of
  the paper): < 1 is a blurred face, which lowers E_tmp;
* ``e_tmp``: E_tmp of the output sequence Y_1 … Y_{T−1} (:func:`tfvsdk.flow.temporal_error`, 0–255 RMS), with
  the 3D flow of consecutive renderings and its visibility as the mask.

Each metric is averaged over the frames of a clip (E_tmp pooled over its frame pairs), then over clips.
The image metrics come from :data:`IMAGE_METRICS` (one place to switch their implementation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch

from ..data.samples import FrameRef, SampleSpec, collate
from ..errors import InputError
from ..flow import flow3d, temporal_error
from ..interfaces import Blender
from ..metrics import detail_ratio, photometric_error, ssim

if TYPE_CHECKING:
    from .trainer import Trainer


IMAGE_METRICS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "face_mae": lambda y, x, mask: photometric_error(y, x, mask=mask),
    "ssim": lambda y, x, mask: ssim(y, x),
    "detail": lambda y, x, mask: detail_ratio(y, x, mask=mask),
}
"""The per-sample image metrics of the evaluation, ``(Y, X, M̂) → (B,)`` (:mod:`tfvsdk.metrics`)."""


def clip_specs(clip: int, frames: int, identity: int | None = None) -> list[SampleSpec]:
    """The samples (t−1, t), t = 1 … frames−1, of one clip.

    Args:
        clip: clip index of the video part.
        frames: its number of frames.
        identity: None for self-reenactment (every role on the clip's frame pair, a video sample); else the
            index of an image of the image part whose face is swapped onto the clip (an image sample: pose
            and expression from the clip, identity and texture from the image, hint X_p(1 − M̂)).
    """
    specs = []
    for t in range(1, frames):
        pair = (FrameRef("video", clip, t - 1), FrameRef("video", clip, t))
        if identity is None:
            specs.append(SampleSpec(True, pair, pair, pair))
        else:
            still = (FrameRef("image", identity), FrameRef("image", identity))
            specs.append(SampleSpec(False, still, pair, pair))
    return specs


@torch.no_grad()
def evaluate_clips(
    trainer: Trainer, clips: Sequence[int], blender: Blender | None = None, identities: Sequence[int] | None = None
) -> dict[str, float]:
    """Self-reenactment (or face-swap) metrics of ``blender`` (default: the trainer's) on ``clips``.

    Args:
        trainer: supplies the data, the renderer, the composer and the batch size.
        clips: indices of clips of the video part (each with ≥ 3 frames).
        blender: any :class:`~tfvsdk.Blender`.
        identities: None for self-reenactment; else one image index of the image part per clip, whose face
            is swapped onto it (see :func:`clip_specs`). A swap has no ground truth: only ``e_tmp`` is
            returned, with the 3D flow of the swapped face's renderings (the paper's Table 3 uses TV-L1
            optical flow on the outputs instead, having no meshes for its baselines).

    Returns:
        Self-reenactment: ``{"face_mae", "ssim", "detail", "e_tmp", "e_tmp_truth"}`` averaged over the clips, where
        ``e_tmp_truth`` is the E_tmp of the ground-truth frames under the same flows (what a perfect
        reconstruction scores). Swap: ``{"e_tmp"}``.

    Raises:
        InputError: no clips, no video part, or a clip of fewer than 3 frames.
    """
    videos = trainer.videos
    if videos is None or not clips:
        raise InputError("evaluation: needs held-out clips of the video part (data.eval_clips > 0)")
    if identities is not None and len(identities) != len(clips):
        raise InputError(f"identities: expected one image per clip ({len(clips)}), got {len(identities)}")
    swap = identities is not None
    blender = blender if blender is not None else trainer.components.blender
    triangles = trainer.components.model.triangles
    was_training = getattr(blender, "training", False)
    if isinstance(blender, torch.nn.Module):
        blender.eval()
    sums = dict.fromkeys((*IMAGE_METRICS, "e_tmp", "e_tmp_truth"), 0.0)
    try:
        for n, clip in enumerate(clips):
            frames = videos.num_frames(clip)
            if frames < 3:
                raise InputError(f"evaluation: clip {clip} has {frames} frames; E_tmp needs at least 3")
            outputs, truth, flows, visible = [], [], [], []
            per_frame = dict.fromkeys(IMAGE_METRICS, 0.0)
            specs = clip_specs(clip, frames, identities[n] if swap else None)
            size = trainer.config.data.batch_size
            for start in range(0, len(specs), size):
                batch = collate([trainer.dataset[s] for s in specs[start : start + size]]).to(trainer.device)
                b = batch.batch_size
                scene = trainer.render(batch, temporal=True)
                y = blender.blend(scene.rendered[:b], scene.appearance[:b], scene.hint[:b], scene.mask[:b])
                x = batch.identity.cur
                if not swap:
                    for key, metric in IMAGE_METRICS.items():
                        per_frame[key] += float(metric(y, x, scene.mask[:b]).sum())
                flow, vis = flow3d(scene.renderings[0], scene.renderings[1], triangles)
                outputs.append(y)
                truth.append(x)
                flows.append(flow)
                visible.append(vis)
            y, x = torch.cat(outputs), torch.cat(truth)
            flow, vis = torch.cat(flows)[1:], torch.cat(visible)[1:]
            for key in IMAGE_METRICS:
                sums[key] += per_frame[key] / len(specs)
            sums["e_tmp"] += float(temporal_error(y, flow, vis))
            sums["e_tmp_truth"] += float(temporal_error(x, flow, vis))
    finally:
        if isinstance(blender, torch.nn.Module):
            blender.train(was_training)
    means = {key: value / len(clips) for key, value in sums.items()}
    return {"e_tmp": means["e_tmp"]} if swap else means
