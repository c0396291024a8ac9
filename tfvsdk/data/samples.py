"""What the DTSS sampler draws (:class:`SampleSpec`) and what the trainer consumes (:class:`TrainingBatch`).

A sample names, for each role of the paper — identity X_i, pose X_p, expression X_e — the frame at time
t−1 and the frame at time t. :class:`SampleDataset` loads the frames and cached fits of a spec;
:func:`collate` stacks samples into a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import attrs
import torch

from ..errors import InputError
from ..records import FaceFit
from .folders import ImageFolder, VideoFolder

ROLES = ("identity", "pose", "expression")
"""The roles of a training sample, in the paper's order (X_i, X_p, X_e)."""


@attrs.frozen
class FrameRef:
    """One frame of a dataset.

    Attributes:
        part: ``"image"`` (image ``index`` of the image part) or ``"video"`` (frame ``frame`` of clip
            ``index`` of the video part).
        index: image index or clip index.
        frame: frame index inside the clip (0 for images).
    """

    part: Literal["image", "video"] = attrs.field(validator=attrs.validators.in_(("image", "video")))
    index: int
    frame: int = 0


@attrs.frozen
class SampleSpec:
    """One draw of the DTSS sampler (§3.1): the (t−1, t) frames of each role.

    Attributes:
        is_video: True for a video sample (self-supervised, L_rec applies), False for an image sample.
        identity: (t−1, t) frames of X_i.
        pose: (t−1, t) frames of X_p.
        expression: (t−1, t) frames of X_e.
    """

    is_video: bool
    identity: tuple[FrameRef, FrameRef]
    pose: tuple[FrameRef, FrameRef]
    expression: tuple[FrameRef, FrameRef]

    def role(self, name: str) -> tuple[FrameRef, FrameRef]:
        """The (t−1, t) frames of role ``name`` (one of :data:`ROLES`)."""
        if name not in ROLES:
            raise InputError(f"role {name!r}: expected one of {ROLES}")
        return getattr(self, name)


def _to(fit: FaceFit, device: torch.device | str) -> FaceFit:
    return FaceFit(
        alpha_id=fit.alpha_id.to(device),
        alpha_exp=fit.alpha_exp.to(device),
        camera=fit.camera.to(device),
        image_size=fit.image_size,
        landmarks=None if fit.landmarks is None else fit.landmarks.to(device),
        found=None if fit.found is None else fit.found.to(device),
    )


@attrs.frozen(eq=False)
class RoleFrames:
    """One role's frames at t−1 and t for a batch of B samples, with their cached fits.

    Attributes:
        prev: (B, 3, H, W) frames at t−1, float32 in [0, 1].
        cur: (B, 3, H, W) frames at t.
        fit_prev: fits of ``prev`` (batch B).
        fit_cur: fits of ``cur`` (batch B).
    """

    prev: torch.Tensor
    cur: torch.Tensor
    fit_prev: FaceFit
    fit_cur: FaceFit

    def to(self, device: torch.device | str) -> RoleFrames:
        return RoleFrames(self.prev.to(device), self.cur.to(device), _to(self.fit_prev, device), _to(self.fit_cur, device))


@attrs.frozen(eq=False)
class TrainingBatch:
    """A batch of B DTSS samples, ready for a training step.

    Attributes:
        identity: frames and fits of X_i.
        pose: frames and fits of X_p.
        expression: frames and fits of X_e.
        is_video: (B,) bool, True for video samples.
        specs: the B sample specs the batch was loaded from.
    """

    identity: RoleFrames
    pose: RoleFrames
    expression: RoleFrames
    is_video: torch.Tensor
    specs: tuple[SampleSpec, ...] = attrs.field(converter=tuple, default=())

    @property
    def batch_size(self) -> int:
        return self.is_video.shape[0]

    def role(self, name: str) -> RoleFrames:
        """The frames of role ``name`` (one of :data:`ROLES`)."""
        if name not in ROLES:
            raise InputError(f"role {name!r}: expected one of {ROLES}")
        return getattr(self, name)

    def to(self, device: torch.device | str) -> TrainingBatch:
        return TrainingBatch(
            self.identity.to(device), self.pose.to(device), self.expression.to(device), self.is_video.to(device), self.specs
        )


class SampleDataset(torch.utils.data.Dataset):
    """Loads the frames and fits a :class:`SampleSpec` names (use with a DataLoader and :func:`collate`).

    Args:
        images: the image part, or None.
        videos: the video part, or None.
    """

    def __init__(self, images: ImageFolder | None, videos: VideoFolder | None) -> None:
        self.images = images
        self.videos = videos

    def _load(self, ref: FrameRef) -> tuple[torch.Tensor, FaceFit]:
        if ref.part == "image":
            if self.images is None:
                raise InputError("sample refers to the image part, but the dataset has none")
            return self.images.image(ref.index), self.images.fit(ref.index)
        if self.videos is None:
            raise InputError("sample refers to the video part, but the dataset has none")
        return self.videos.frame(ref.index, ref.frame), self.videos.fit(ref.index, ref.frame)

    def __getitem__(self, spec: SampleSpec) -> tuple[SampleSpec, dict[FrameRef, tuple[torch.Tensor, FaceFit]]]:
        loaded: dict[FrameRef, tuple[torch.Tensor, FaceFit]] = {}
        for role in ROLES:
            for ref in spec.role(role):
                if ref not in loaded:
                    loaded[ref] = self._load(ref)
        return spec, loaded


def collate(samples: Sequence[tuple[SampleSpec, dict[FrameRef, tuple[torch.Tensor, FaceFit]]]]) -> TrainingBatch:
    """Stack the items :class:`SampleDataset` returns into a :class:`TrainingBatch`."""
    roles = {}
    for role in ROLES:
        parts = []
        for time in (0, 1):
            refs = [(spec.role(role)[time], loaded) for spec, loaded in samples]
            images = torch.stack([loaded[ref][0] for ref, loaded in refs])
            fit = FaceFit.cat([loaded[ref][1] for ref, loaded in refs])
            parts.append((images, fit))
        roles[role] = RoleFrames(parts[0][0], parts[1][0], parts[0][1], parts[1][1])
    is_video = torch.tensor([spec.is_video for spec, _ in samples], dtype=torch.bool)
    return TrainingBatch(**roles, is_video=is_video, specs=[spec for spec, _ in samples])
